//! Running the real `hookbr` binary in tests, bounded in time.

use std::{
    io::Read as _,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// What one `hookbr` run did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code (`None` when killed by a signal).
    pub(crate) code: Option<i32>,
    /// Everything printed on stdout.
    pub(crate) stdout: String,
    /// Everything printed on stderr.
    pub(crate) stderr: String,
}

impl Run {
    /// Stdout as one JSON document.
    #[allow(dead_code, reason = "not every test binary uses it")]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|error| panic!("not JSON ({error}): {self:?}"))
    }

    /// Stdout and stderr together.
    #[allow(dead_code, reason = "not every test binary uses it")]
    pub(crate) fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `command` (stdin closed, outputs captured), killed after `deadline`.
pub(crate) fn run_within(mut command: Command, deadline: Duration) -> Run {
    let label = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hookbr starts");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label} ran longer than {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}
