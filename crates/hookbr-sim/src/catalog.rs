//! The built-in samples: one wire fixture per kind (`hookbr_core::testkit::fixture`, the one
//! copy of each sample body), sent compact with fresh ids and timestamps.

use std::time::SystemTime;

use hookbr_core::{Provider, testkit};

use crate::{
    Error,
    json::{minify, refresh_string, string_at},
    outgoing::Draft,
    template,
};

/// BonifiQ kinds (`--kind`: the topic, or `unknown`: a topic hookbr has no type for) and
/// their fixtures. The Point topics and the first two Communication topics use the legacy
/// envelope of BonifiQ's help centre (integer `Topic` plus `TopicName`), the other
/// Communication topics the 2025 envelope (`Topic` is the name).
const BONIFIQ: [(&str, &str); 15] = [
    ("Point_Add", "bonifiq/point_add_legacy.json"),
    ("Point_Remove", "bonifiq/point_remove.json"),
    ("Point_Update", "bonifiq/point_update.json"),
    (
        "Communication_EarnPurchasePoints",
        "bonifiq/earn_purchase_points_legacy.json",
    ),
    (
        "Communication_EarnBirthdayPoints",
        "bonifiq/earn_birthday_points_legacy.json",
    ),
    (
        "Communication_EarnSignupPoints",
        "bonifiq/earn_signup_points.json",
    ),
    (
        "Communication_EarnReviewPoints",
        "bonifiq/earn_review_points.json",
    ),
    (
        "Communication_ReferralCommunicationPoints",
        "bonifiq/referral_communication_points.json",
    ),
    (
        "Communication_EarnQuizPoints",
        "bonifiq/earn_quiz_points.json",
    ),
    (
        "Communication_EarnCustomObjectivePoints",
        "bonifiq/earn_custom_objective_points.json",
    ),
    (
        "Communication_EarnSocialMediaFollowInstagram",
        "bonifiq/earn_social_media_follow_instagram.json",
    ),
    (
        "Communication_EarnSocialMediaFollowFacebook",
        "bonifiq/earn_social_media_follow_facebook.json",
    ),
    (
        "Communication_EarnSocialMediaFollowLinkedin",
        "bonifiq/earn_social_media_follow_linkedin.json",
    ),
    (
        "Communication_EarnSocialMediaFollowTikTok",
        "bonifiq/earn_social_media_follow_tiktok.json",
    ),
    // A topic hookbr has no type for (BonifiQ documents 26 topics, 12 of them not publicly).
    ("unknown", "bonifiq/unknown_topic.json"),
];

/// Foody kinds: the event, or the `status` of an `order_status_updated`.
const FOODY: [(&str, &str); 9] = [
    ("order_status_updated", "foody/order_status_updated.json"),
    ("hook_test", "foody/hook_test.json"),
    ("open", "foody/status_open.json"),
    ("ready", "foody/status_ready.json"),
    ("dispatched", "foody/order_status_updated.json"),
    ("delivered", "foody/status_delivered.json"),
    ("closed", "foody/status_closed.json"),
    ("cancelled", "foody/status_cancelled.json"),
    ("canceled", "foody/status_canceled.json"),
];

/// iSET kinds, in [`IsetKind::ALL`](hookbr_core::iset::IsetKind::ALL)'s order (the receiver picks the kind by URL: this only
/// picks the body).
const ISET: [(&str, &str); 7] = [
    ("order_upserted", "iset/order_upserted.json"),
    ("order_deleted", "iset/order_deleted.json"),
    ("product_upserted", "iset/product_upserted.json"),
    ("product_deleted", "iset/product_deleted.json"),
    ("stock_changed", "iset/stock_changed.json"),
    ("category_upserted", "iset/category_upserted.json"),
    ("category_deleted", "iset/category_deleted.json"),
];

/// Grafeno kinds: the `change`, or `unknown` (`protesto-solicitado`, a change hookbr has no
/// type for).
const GRAFENO: [(&str, &str); 8] = [
    ("approved", "grafeno/cadastro_approved.json"),
    ("rejected", "grafeno/cadastro_rejected.json"),
    (
        "validation_pendencies",
        "grafeno/cadastro_validation_pendencies.json",
    ),
    ("boleto-criado", "grafeno/boleto_criado.json"),
    (
        "boleto-falha-registro",
        "grafeno/boleto_falha_registro.json",
    ),
    ("cobranca-atualizacao", "grafeno/cobranca_atualizacao.json"),
    ("atualizacao-cobranca", "grafeno/atualizacao_cobranca.json"),
    ("unknown", "grafeno/unknown_change.json"),
];

fn catalog(provider: Provider) -> &'static [(&'static str, &'static str)] {
    match provider {
        Provider::Bonifiq => &BONIFIQ,
        Provider::Foody => &FOODY,
        Provider::Iset => &ISET,
        Provider::Grafeno => &GRAFENO,
        _ => &[],
    }
}

/// The built-in kinds of `provider`, the default first.
///
/// ```
/// use hookbr_core::Provider;
///
/// assert_eq!(hookbr_sim::kinds(Provider::Foody)[..2], ["order_status_updated", "hook_test"]);
/// assert_eq!(hookbr_sim::kinds(Provider::Bonifiq).len(), 15);
/// ```
#[must_use]
pub fn kinds(provider: Provider) -> Vec<&'static str> {
    catalog(provider).iter().map(|(name, _)| *name).collect()
}

fn find_kind<'a>(
    provider: Provider,
    kind: Option<&str>,
    names: &[&'a str],
) -> Result<&'a str, Error> {
    match kind {
        None => names
            .first()
            .copied()
            .ok_or_else(|| Error::new(format!("no samples for {provider}"))),
        Some(kind) => names
            .iter()
            .find(|name| name.eq_ignore_ascii_case(kind.trim()))
            .copied()
            .ok_or_else(|| Error::unknown_kind(provider, kind, names)),
    }
}

/// The built-in sample of `provider` and `kind` (`None`: the provider's most common kind): its
/// fixture, compact, with the fresh ids of a template ([`template::refresh`]) and fresh
/// timestamps.
pub(crate) fn sample(provider: Provider, kind: Option<&str>) -> Result<Draft, Error> {
    let kind = find_kind(provider, kind, &kinds(provider))?;
    let text = catalog(provider)
        .iter()
        .find(|(name, _)| *name == kind)
        .and_then(|(_, path)| testkit::fixture(path))
        .map(minify)
        .ok_or_else(|| Error::new(format!("internal error: no {provider} sample {kind:?}")))?;
    let iset_kind = match provider {
        Provider::Iset => Some(template::iset_kind(kind)?),
        _ => None,
    };
    let mut draft = template::refresh(provider, iset_kind, text)?;
    draft.body = refresh_timestamps(provider, &draft.body);
    Ok(draft)
}

/// Sets the sample's timestamps to now, each written like the fixture's (see [`now_like`]):
/// BonifiQ `Timestamp`, Foody `updateDate`, iSET `data_alteracao` (Brazil's local time: UTC-3,
/// without an offset), Grafeno `data.createdAt` and `data.updatedAt`.
fn refresh_timestamps(provider: Provider, text: &str) -> String {
    const BRAZIL: i64 = -3 * 3600;
    let (paths, naive_offset): (&[&[&str]], i64) = match provider {
        Provider::Bonifiq => (&[&["Timestamp"]], 0),
        Provider::Foody => (&[&["updateDate"]], 0),
        Provider::Iset => (&[&["data_alteracao"]], BRAZIL),
        Provider::Grafeno => (&[&["data", "createdAt"], &["data", "updatedAt"]], BRAZIL),
        _ => (&[], 0),
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut text = text.to_owned();
    for path in paths {
        let fresh = string_at(&text, path).and_then(|example| {
            now_like(&example, now.as_secs(), now.subsec_nanos(), naive_offset)
        });
        if let Some(fresh) = fresh {
            text = refresh_string(&text, path, &fresh);
        }
    }
    text
}

/// Unix time `secs` + `nanos` written like `example` (`YYYY-MM-DD[T ]HH:MM:SS[.fraction]` and
/// `Z`, an offset `±HH:MM` or nothing): the same separator, as many fraction digits, the same
/// offset (`naive_offset` seconds east of UTC for a timestamp without one). `None` when
/// `example` is not such a timestamp.
fn now_like(example: &str, secs: u64, nanos: u32, naive_offset: i64) -> Option<String> {
    let separator = example.get(10..11).filter(|s| *s == "T" || *s == " ")?;
    let rest = example.get(19..)?;
    let digits = match rest.strip_prefix('.') {
        Some(fraction) => fraction.bytes().take_while(u8::is_ascii_digit).count(),
        None => 0,
    };
    let suffix = match digits {
        0 => rest,
        _ => rest.get(1 + digits..)?,
    };
    let offset = match suffix.as_bytes() {
        [] => naive_offset,
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let number = |a: u8, b: u8| {
                i64::from(a.wrapping_sub(b'0')) * 10 + i64::from(b.wrapping_sub(b'0'))
            };
            let seconds = number(*h1, *h2) * 3600 + number(*m1, *m2) * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let local = secs.checked_add_signed(offset)?;
    Some(civil(local, nanos, digits, suffix).replacen('T', separator, 1))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]` + `suffix` for Unix time `secs` + `nanos`, with `digits`
/// fraction digits (0 to 9).
///
/// The simulator's one date routine (on `jiff`), to be replaced by `hookbr_core::timestamp`'s
/// formatter once core has one.
fn civil(secs: u64, nanos: u32, digits: usize, suffix: &str) -> String {
    let time = i64::try_from(secs)
        .ok()
        .and_then(|secs| jiff::Timestamp::new(secs, 0).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let date_time = jiff::tz::Offset::UTC.to_datetime(time);
    let mut out = date_time.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let digits = digits.min(9);
    if digits > 0 {
        let nanos = format!("{:09}", nanos.min(999_999_999));
        out.push('.');
        out.push_str(nanos.get(..digits).unwrap_or("0"));
    }
    out.push_str(suffix);
    out
}

#[cfg(test)]
mod tests {
    use hookbr_core::iset::IsetKind;

    use super::*;

    #[test]
    fn every_kind_has_its_fixture() {
        for provider in Provider::ALL {
            for (kind, path) in catalog(provider) {
                assert!(
                    testkit::fixture(path).is_some(),
                    "{provider} {kind}: {path}"
                );
            }
        }
        let iset: Vec<&str> = IsetKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(kinds(Provider::Iset), iset);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0, 0, 0, "Z"), "1970-01-01T00:00:00Z");
        assert_eq!(
            civil(1_592_588_532, 396_371_000, 6, ""),
            "2020-06-19T17:42:12.396371"
        );
        assert_eq!(civil(951_782_400, 0, 3, "Z"), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn timestamps_keep_the_fixture_format() {
        let (secs, nanos) = (1_592_588_532, 396_371_000);
        let like = |example| now_like(example, secs, nanos, -3 * 3600);
        assert_eq!(
            like("2024-03-01T13:16:11.396371").as_deref(),
            Some("2020-06-19T14:42:12.396371"),
            "without an offset: the naive offset"
        );
        assert_eq!(
            like("2024-06-20T16:45:57.7236232Z").as_deref(),
            Some("2020-06-19T17:42:12.3963710Z")
        );
        assert_eq!(
            like("2020-06-19T17:00:03Z").as_deref(),
            Some("2020-06-19T17:42:12Z")
        );
        assert_eq!(
            like("2026-03-10T10:15:02.311-03:00").as_deref(),
            Some("2020-06-19T14:42:12.396-03:00")
        );
        assert_eq!(
            like("2020-06-19T15:05:31+01:30").as_deref(),
            Some("2020-06-19T19:12:12+01:30")
        );
        assert_eq!(
            like("2024-05-10 14:32:10").as_deref(),
            Some("2020-06-19 14:42:12")
        );
        for bad in [
            "",
            "2024-05-10",
            "2024-05-10X14:32:10",
            "2024-05-10T14:32:10+3",
            "2024-05-10T14:32:10.5 UTC",
        ] {
            assert_eq!(like(bad), None, "{bad:?}");
        }
        assert_eq!(
            now_like("1970-01-01T00:00:00-03:00", 0, 0, 0),
            None,
            "before 1970"
        );
    }
}
