//! The deliveries page's pictures: deliveries per minute over the last hour as a
//! server-rendered SVG (one strip per provider, bars stacked by outcome), and per-provider
//! health beside it as a table (issue 18 point 5). No script, no image request, no font: the
//! SVG is inline markup, coloured by presentation attributes (allowed by the page's CSP), with
//! a `<title>`, an `aria-label` and a legend; the table says the same in words.

use hookbr_core::Provider;
use maud::{Markup, html};

use crate::activity::{Charted, MINUTES, Window};

/// How many open rows the page's walk for the oldest pending per provider reads at most.
pub(super) const OLDEST_SCAN: usize = 1_000;

/// Where the oldest pending delivery's age comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Oldest {
    /// Direct mode: nothing is pending.
    Direct,
    /// Inbox mode.
    Inbox {
        /// The receive time of the oldest row not done (the inbox's indexed query), `None`
        /// when there is none or the inbox did not answer.
        all: Option<i64>,
        /// Per provider, from the walk of at most [`OLDEST_SCAN`] open rows (`None` when the
        /// inbox did not tell).
        by_provider: Option<Vec<(Provider, i64)>>,
        /// Whether the walk saw every open row (a provider absent from it has none).
        complete: bool,
    },
}

impl Oldest {
    /// The cell of `provider`'s oldest pending delivery.
    fn cell(&self, provider: Provider, now_ms: i64) -> String {
        match self {
            Self::Direct => "n/a".to_owned(),
            Self::Inbox {
                by_provider: None, ..
            } => "?".to_owned(),
            Self::Inbox {
                by_provider: Some(found),
                complete,
                ..
            } => match found.iter().find(|(known, _)| *known == provider) {
                Some((_, at)) => age(now_ms, *at),
                None if *complete => "none".to_owned(),
                None => format!("none among the {OLDEST_SCAN} oldest"),
            },
        }
    }
}

/// Left margin for the provider names, in px.
const LABEL_W: usize = 70;
/// Width of one minute's bar slot, in px.
const BAR_W: usize = 10;
/// Height of one provider's strip, in px.
const STRIP_H: usize = 40;
/// Gap between strips, in px.
const GAP: usize = 8;
/// Height of the axis and legend below the strips, in px.
const FOOT_H: usize = 40;

/// The fill colour of an outcome (colour-blind friendly: Okabe–Ito).
fn colour(outcome: Charted) -> &'static str {
    match outcome {
        Charted::Accepted => "#009e73",
        Charted::Duplicate => "#e69f00",
        Charted::Rejected => "#d55e00",
        Charted::HandlerFailed => "#cc79a7",
    }
}

/// The providers drawn: those seen this hour, else none.
fn drawn(window: &Window) -> Vec<Provider> {
    Provider::ALL
        .into_iter()
        .filter(|provider| window.provider_total(*provider) > 0)
        .collect()
}

/// `ms` as a short relative time (`12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`).
pub(super) fn ago(now_ms: i64, at_ms: i64) -> String {
    let seconds = now_ms.saturating_sub(at_ms).max(0) / 1_000;
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3_600 => format!("{} min ago", seconds / 60),
        3_600..86_400 => format!("{} h ago", seconds / 3_600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// An age without "ago" (`40 s`, `3 min`, ...).
fn age(now_ms: i64, at_ms: i64) -> String {
    ago(now_ms, at_ms).trim_end_matches(" ago").to_owned()
}

/// The bar heights of one minute of one provider, stacked in [`Charted::ALL`] order:
/// `(outcome, y, height)` with `y` from the strip's top; a non-zero count is at least 1 px.
fn stack(
    window: &Window,
    index: usize,
    provider: Provider,
    max: u32,
) -> Vec<(Charted, usize, usize)> {
    let mut bars = Vec::new();
    let mut bottom = STRIP_H;
    for outcome in Charted::ALL {
        let count = window.count(index, provider, outcome);
        if count == 0 || max == 0 {
            continue;
        }
        let scaled = (u64::from(count) * STRIP_H as u64).div_ceil(u64::from(max));
        let height = usize::try_from(scaled)
            .unwrap_or(STRIP_H)
            .clamp(1, bottom.max(1));
        bottom = bottom.saturating_sub(height);
        bars.push((outcome, bottom, height));
    }
    bars
}

/// A sentence for the `aria-label`: the hour's totals per provider.
fn summary(window: &Window, providers: &[Provider]) -> String {
    if providers.is_empty() {
        return "Deliveries per minute, last hour: none".to_owned();
    }
    let parts: Vec<String> = providers
        .iter()
        .map(|provider| {
            let counts: Vec<String> = Charted::ALL
                .iter()
                .map(|outcome| format!("{} {}", window.total(*provider, *outcome), outcome.label()))
                .collect();
            format!("{}: {}", provider.as_str(), counts.join(", "))
        })
        .collect();
    format!("Deliveries per minute, last hour. {}", parts.join("; "))
}

/// The SVG time series.
pub(super) fn svg(window: &Window) -> Markup {
    let providers = drawn(window);
    let strips = providers.len().max(1);
    let width = LABEL_W + MINUTES * BAR_W + 10;
    let height = strips * (STRIP_H + GAP) + FOOT_H;
    let max = (0..MINUTES)
        .flat_map(|index| providers.iter().map(move |p| (index, *p)))
        .map(|(index, provider)| window.minute_total(index, provider))
        .max()
        .unwrap_or(0);
    let label = summary(window, &providers);
    let axis_y = strips * (STRIP_H + GAP);
    html! {
        svg id="activity" xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) }
            font-family="system-ui,sans-serif" font-size="11" {
            title { "Deliveries per minute over the last hour, by provider and outcome" }
            desc { (label) }
            @if providers.is_empty() {
                rect x=(LABEL_W) y="0" width=(MINUTES * BAR_W) height=(STRIP_H) fill="#f4f4f4" {}
                text x=(LABEL_W + 8) y=(STRIP_H / 2 + 4) fill="#555" { "no deliveries in the last hour" }
            }
            @for (row, provider) in providers.iter().enumerate() {
                @let top = row * (STRIP_H + GAP);
                g class="strip" data-provider=(provider.as_str()) transform={ "translate(0," (top) ")" } {
                    text x="0" y=(STRIP_H / 2 + 4) fill="#222" { (provider.as_str()) }
                    rect x=(LABEL_W) y="0" width=(MINUTES * BAR_W) height=(STRIP_H) fill="#f7f7f7" {}
                    @for index in 0..MINUTES {
                        @for (outcome, y, h) in stack(window, index, *provider, max) {
                            rect class="bar" data-outcome=(outcome.label())
                                x=(LABEL_W + index * BAR_W + 1) y=(y) width=(BAR_W - 2) height=(h)
                                fill=(colour(outcome)) {
                                title { (window.count(index, *provider, outcome)) " " (outcome.label()) }
                            }
                        }
                    }
                }
            }
            text x=(LABEL_W) y=(axis_y + 4) fill="#555" dominant-baseline="hanging" { "60 min ago" }
            text x=(LABEL_W + MINUTES * BAR_W) y=(axis_y + 4) fill="#555" text-anchor="end"
                dominant-baseline="hanging" { "now (max " (max) "/min)" }
            @for (i, outcome) in Charted::ALL.iter().enumerate() {
                @let x = LABEL_W + i * 140;
                g class="legend" {
                    rect x=(x) y=(axis_y + 22) width="10" height="10" fill=(colour(*outcome)) {}
                    text x=(x + 14) y=(axis_y + 31) fill="#222" { (outcome.label()) }
                }
            }
        }
    }
}

/// The per-provider health table, with the hour's totals.
pub(super) fn health(window: &Window, now_ms: i64, oldest: &Oldest) -> Markup {
    let providers: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|provider| window.last(*provider).is_some() || window.provider_total(*provider) > 0)
        .collect();
    html! {
        table id="health" {
            tr {
                th { "provider" } th { "last delivery" }
                @for outcome in Charted::ALL { th { (outcome.label()) } }
                th { "error rate (1 h)" }
                th { "oldest pending" }
            }
            @if providers.is_empty() {
                tr { td colspan="8" { "no deliveries since this server started" } }
            }
            @for provider in &providers {
                tr data-provider=(provider.as_str()) {
                    td { (provider.as_str()) }
                    td { (window.last(*provider).map_or_else(|| "over an hour ago".to_owned(), |at| ago(now_ms, at))) }
                    @for outcome in Charted::ALL {
                        @let total = window.total(*provider, outcome);
                        // Coloured like the recent requests' outcomes, when there are any.
                        td class=[(total > 0).then(|| outcome.label().replace('/', " "))] { (total) }
                    }
                    td class="rate" {
                        @match window.error_rate(*provider) {
                            Some(rate) => (format!("{:.0} %", rate * 100.0)),
                            None => "–",
                        }
                    }
                    td class="oldest" { (oldest.cell(*provider, now_ms)) }
                }
            }
        }
        p id="oldest-pending" {
            "oldest pending delivery (all providers): "
            @match oldest {
                Oldest::Direct => "n/a (direct mode)",
                Oldest::Inbox { all: None, .. } => "none",
                Oldest::Inbox { all: Some(at), .. } => (age(now_ms, *at)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Activity;

    const T0: i64 = 1_700_000_040_000;

    #[test]
    fn an_empty_hour_draws_an_empty_chart() {
        let window = Activity::default().window(T0);
        let svg = svg(&window).into_string();
        assert!(svg.contains("<title>Deliveries per minute"), "{svg}");
        assert!(
            svg.contains("aria-label=\"Deliveries per minute, last hour: none\""),
            "{svg}"
        );
        assert!(svg.contains("no deliveries in the last hour"), "{svg}");
        assert!(!svg.contains("class=\"bar\""), "{svg}");
        let table = health(&window, T0, &Oldest::Direct).into_string();
        assert!(
            table.contains("no deliveries since this server started"),
            "{table}"
        );
        assert!(table.contains("n/a (direct mode)"), "{table}");
    }

    #[test]
    fn bars_are_scaled_and_stacked() {
        let mut activity = Activity::default();
        for _ in 0..4 {
            activity.add(Provider::Foody, Charted::Accepted, T0);
        }
        activity.add(Provider::Foody, Charted::Rejected, T0);
        activity.add(Provider::Bonifiq, Charted::Accepted, T0 - 60_000);
        let window = activity.window(T0);
        // The tallest minute (5) fills the strip: 4 → 32 px, then 1 → 8 px on top.
        assert_eq!(
            stack(&window, 59, Provider::Foody, 5),
            vec![(Charted::Accepted, 8, 32), (Charted::Rejected, 0, 8)]
        );
        // A small count still shows (at least 1 px).
        assert_eq!(
            stack(&window, 58, Provider::Bonifiq, 1_000),
            vec![(Charted::Accepted, 39, 1)]
        );
        let svg = svg(&window).into_string();
        assert_eq!(svg.matches("class=\"bar\"").count(), 3, "{svg}");
        assert!(svg.contains("data-provider=\"foody\""), "{svg}");
        assert!(svg.contains("data-provider=\"bonifiq\""), "{svg}");
        assert!(!svg.contains("data-provider=\"iset\""), "{svg}");
        assert!(
            svg.contains("foody: 4 processed/stored, 0 duplicate, 1 rejected"),
            "{svg}"
        );
        let oldest = Oldest::Inbox {
            all: Some(T0 - 125_000),
            by_provider: Some(vec![(Provider::Foody, T0 - 125_000)]),
            complete: true,
        };
        let table = health(&window, T0 + 5_000, &oldest).into_string();
        assert!(table.contains("5 s ago"), "{table}");
        assert!(table.contains("20 %"), "{table}");
        assert!(table.contains("(all providers): 2 min"), "{table}");
        assert!(table.contains("<td class=\"oldest\">2 min</td>"), "{table}");
        assert!(table.contains("<td class=\"oldest\">none</td>"), "{table}");
        let partial = Oldest::Inbox {
            all: Some(T0),
            by_provider: Some(Vec::new()),
            complete: false,
        };
        assert_eq!(
            partial.cell(Provider::Iset, T0),
            format!("none among the {OLDEST_SCAN} oldest")
        );
        assert_eq!(Oldest::Direct.cell(Provider::Iset, T0), "n/a");
    }

    #[test]
    fn labels_are_escaped() {
        // Every text is a fixed word or a number today; the markup escapes anyway.
        let window = Activity::default().window(T0);
        let svg = svg(&window).into_string();
        assert!(!svg.contains("<script"));
        let escaped = html! { text { ("<b>\"x\"</b>") } }.into_string();
        assert_eq!(escaped, "<text>&lt;b&gt;&quot;x&quot;&lt;/b&gt;</text>");
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago(T0, T0), "0 s ago");
        assert_eq!(ago(T0, T0 + 10_000), "0 s ago");
        assert_eq!(ago(T0, T0 - 59_999), "59 s ago");
        assert_eq!(ago(T0, T0 - 60_000), "1 min ago");
        assert_eq!(ago(T0, T0 - 7_200_000), "2 h ago");
        assert_eq!(ago(T0, T0 - 3 * 86_400_000), "3 d ago");
        assert_eq!(
            ago(T0, i64::MIN),
            format!("{} d ago", i64::MAX / 1_000 / 86_400)
        );
    }
}
