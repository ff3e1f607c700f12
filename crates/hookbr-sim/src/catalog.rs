//! The built-in samples: one wire fixture per kind (`hookbr_core::testkit::fixture`, the one
//! copy of each sample body), sent compact with fresh ids and timestamps.

use std::time::SystemTime;

use hookbr_core::{Provider, Timestamp, testkit};

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

/// Unix time `secs` + `nanos` written like `example`, a date-time `hookbr_core::Timestamp`
/// reads with `T` or a space between date and time (`YYYY-MM-DD[T ]HH:MM:SS[.fraction]` and
/// `Z`, an offset or nothing): the same separator, as many fraction digits, the same offset
/// (`naive_offset` seconds east of UTC for a timestamp without one). `None` when `example` is
/// not such a timestamp, or the local time falls before 1970.
fn now_like(example: &str, secs: u64, nanos: u32, naive_offset: i64) -> Option<String> {
    let separator = example.get(10..11).filter(|s| *s == "T" || *s == " ")?;
    let rest = example.get(19..)?;
    let digits = match rest.strip_prefix('.') {
        Some(fraction) => fraction.bytes().take_while(u8::is_ascii_digit).count(),
        None => 0,
    };
    let local_len = 19 + if digits > 0 { 1 + digits } else { 0 };
    let (local_part, suffix) = (example.get(..local_len)?, example.get(local_len..)?);
    // The offset is what separates the example's local time (read as UTC) from its instant.
    let instant = Timestamp::parse(example).ok()?;
    let offset = match suffix {
        "" => naive_offset,
        _ if suffix.starts_with(['Z', '+', '-']) => {
            Timestamp::parse(local_part).ok()?.unix_seconds() - instant.unix_seconds()
        }
        _ => return None,
    };
    let local = i64::try_from(secs.checked_add_signed(offset)?).ok()?;
    let local = jiff::Timestamp::new(local, i32::try_from(nanos).ok()?).ok()?;
    // jiff writes exactly `digits` fraction digits (none at 0), truncating.
    let date_time = jiff::tz::Offset::UTC.to_datetime(local);
    let digits = digits.min(9);
    Some(format!("{date_time:.digits$}{suffix}").replacen('T', separator, 1))
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
    fn timestamps_keep_the_fixture_format() {
        let (secs, nanos) = (1_592_588_532, 396_371_000);
        // (example, Unix time, naive offset, result)
        let cases = [
            ("2024-01-01T00:00:00Z", (0, 0), 0, "1970-01-01T00:00:00Z"),
            (
                "2024-01-01T00:00:00.000Z",
                (951_782_400, 0),
                0,
                "2000-02-29T00:00:00.000Z",
            ),
            (
                "2024-03-01T13:16:11.396371",
                (secs, nanos),
                0,
                "2020-06-19T17:42:12.396371",
            ),
            // Without an offset: the naive offset.
            (
                "2024-03-01T13:16:11.396371",
                (secs, nanos),
                -3 * 3600,
                "2020-06-19T14:42:12.396371",
            ),
            (
                "2024-06-20T16:45:57.7236232Z",
                (secs, nanos),
                -3 * 3600,
                "2020-06-19T17:42:12.3963710Z",
            ),
            (
                "2020-06-19T17:00:03Z",
                (secs, nanos),
                -3 * 3600,
                "2020-06-19T17:42:12Z",
            ),
            (
                "2026-03-10T10:15:02.311-03:00",
                (secs, nanos),
                -3 * 3600,
                "2020-06-19T14:42:12.396-03:00",
            ),
            (
                "2020-06-19T15:05:31+01:30",
                (secs, nanos),
                -3 * 3600,
                "2020-06-19T19:12:12+01:30",
            ),
            (
                "2024-05-10 14:32:10",
                (secs, nanos),
                -3 * 3600,
                "2020-06-19 14:42:12",
            ),
        ];
        for (example, (secs, nanos), naive, expected) in cases {
            assert_eq!(
                now_like(example, secs, nanos, naive).as_deref(),
                Some(expected),
                "{example}"
            );
        }
        for bad in [
            "",
            "2024-05-10",
            "2024-05-10X14:32:10",
            "2024-05-10T14:32:10+3",
            "2024-05-10T14:32:10.5 UTC",
        ] {
            assert_eq!(now_like(bad, secs, nanos, -3 * 3600), None, "{bad:?}");
        }
        assert_eq!(
            now_like("1970-01-01T00:00:00-03:00", 0, 0, 0),
            None,
            "before 1970"
        );
    }
}
