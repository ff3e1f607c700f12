//! The command sink: run a program with the message on stdin; exit status 0 is success.

use std::{process::Stdio, time::Duration};

use tokio::io::AsyncWriteExt as _;

use super::message::Message;

/// Runs `command` with the message on stdin.
pub(super) async fn run_command(
    command: &[String],
    timeout: Duration,
    message: &Message,
) -> Result<(), String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "empty command".to_owned())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("HOOKBR_WEBHOOK_ID", &message.id)
        .env("HOOKBR_EVENT_TYPE", &message.event_type)
        .env("HOOKBR_DELIVERY_ID", &message.delivery_id)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    let mut stdin = child.stdin.take();
    let body = message.body.clone();
    let run = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A program that does not read its input is not an error by itself: its exit
            // status decides.
            let _ = stdin.write_all(&body).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    let output = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("{program} did not finish within {} ms", timeout.as_millis()))?
        .map_err(|error| format!("{program}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    let last: String = last.chars().take(200).collect();
    let status = output.status.code().map_or_else(
        || "was killed by a signal".to_owned(),
        |code| format!("exited with {code}"),
    );
    Err(if last.is_empty() {
        format!("{program} {status}")
    } else {
        format!("{program} {status}: {last}")
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn command_sink_gets_the_json_and_reports_failures() {
        let message = Message {
            id: "msg_1".into(),
            event_type: "foody.hook_test".into(),
            delivery_id: "d1".into(),
            provider: "foody",
            kind: "hook_test".into(),
            endpoint: "foody".into(),
            body: Arc::from(&b"{\"a\":1}"[..]),
            known: true,
            occurred_at_ms: None,
            received_at_ms: 0,
            stale: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.json");
        let script = format!(
            "cat > {} && test \"$HOOKBR_WEBHOOK_ID\" = msg_1",
            out.display()
        );
        let ok = vec!["sh".into(), "-c".into(), script];
        run_command(&ok, Duration::from_secs(10), &message)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"{\"a\":1}");

        let failing = vec!["sh".into(), "-c".into(), "echo boom >&2; exit 3".into()];
        let error = run_command(&failing, Duration::from_secs(10), &message)
            .await
            .unwrap_err();
        assert_eq!(error, "sh exited with 3: boom");

        let slow = vec!["sleep".into(), "5".into()];
        let error = run_command(&slow, Duration::from_millis(100), &message)
            .await
            .unwrap_err();
        assert!(error.contains("did not finish"), "{error}");

        let missing = vec!["/nonexistent/hookbr-sink".into()];
        assert!(
            run_command(&missing, Duration::from_secs(1), &message)
                .await
                .is_err()
        );
    }
}
