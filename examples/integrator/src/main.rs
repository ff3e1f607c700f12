//! Matching on hookbr's `WebhookEvent`: what a merchant's handler looks like.
//!
//! Runs the receive pipeline on one authentic delivery per provider (built with
//! `hookbr_core::testkit`) and prints what the handler would do:
//!
//! ```text
//! cargo run -p example-integrator
//! ```

#![allow(
    clippy::print_stdout,
    reason = "an example that prints what it would do"
)]

use hookbr_core::{
    Endpoint, Receiver, Secret, Verified, WebhookEvent,
    bonifiq::{BonifiqEvent, BonifiqPayload},
    foody::FoodyEvent,
    grafeno::{GrafenoData, GrafenoEvent},
    iset::IsetKind,
    testkit::{self, TestDelivery, TestKey},
    verify::{
        AnyVerifier, BodyTokenVerifier, GrafenoVerifier, HeaderSecretVerifier, UrlSecretVerifier,
    },
};

/// The merchant's handler: one match over every provider.
fn handle(event: &WebhookEvent) -> String {
    match event {
        WebhookEvent::Bonifiq(BonifiqEvent::Envelope(envelope)) => match &envelope.payload {
            BonifiqPayload::PointAdd(points) => format!(
                "credit {} points to {}",
                points.points,
                points.customer.email.as_deref().unwrap_or("?")
            ),
            BonifiqPayload::EarnPurchasePoints(earned) => {
                format!(
                    "thank {} for {} points",
                    earned.customer.name.as_deref().unwrap_or("?"),
                    earned.earned_points
                )
            }
            other => format!("loyalty event {} ({other:?})", envelope.topic.as_str()),
        },
        WebhookEvent::Foody(FoodyEvent::OrderStatusUpdated(update)) => {
            format!("order {} is now {}", update.uid, update.status)
        }
        WebhookEvent::Iset(notification) => format!(
            "re-fetch {} {}",
            notification.kind,
            notification.entity_id().unwrap_or("(no id)")
        ),
        WebhookEvent::Grafeno(GrafenoEvent {
            change,
            data: GrafenoData::Registration(r),
            ..
        }) => {
            format!("registration {} is {change}", r.id)
        }
        other => format!("ignored {} {}", other.provider(), other.kind()),
    }
}

fn run(
    receiver: &Receiver<AnyVerifier>,
    delivery: &TestDelivery,
) -> Result<(), Box<dyn std::error::Error>> {
    let outcome: Result<Verified, _> =
        futures_executor::block_on(receiver.process(&delivery.request()));
    match outcome {
        Ok(verified) => {
            println!(
                "{:>8} {:<34} -> {}",
                verified.provider(),
                verified.kind(),
                handle(verified.event())
            );
            futures_executor::block_on(receiver.complete(&verified))?;
        }
        Err(rejection) => {
            let verb = if rejection.is_acknowledgement() {
                "answered"
            } else {
                "rejected"
            };
            let provider = receiver.endpoint().provider();
            println!(
                "{provider:>8} {verb} {} ({})",
                rejection.status(),
                rejection.reason()
            );
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = || Secret::new("loyalty-secret");
    let bonifiq = Receiver::builder(
        Endpoint::Bonifiq,
        HeaderSecretVerifier::bonifiq([secret()?])?.into(),
    )
    .build()?;
    let foody = Receiver::builder(
        Endpoint::Foody,
        BodyTokenVerifier::foody([Secret::new("foody-token")?])?.into(),
    )
    .build()?;
    let iset = Receiver::builder(
        Endpoint::Iset(IsetKind::OrderUpserted),
        UrlSecretVerifier::query_param("token", [Secret::new("iset-secret")?])?.into(),
    )
    .build()?;
    let grafeno = Receiver::builder(
        Endpoint::Grafeno,
        GrafenoVerifier::new([TestKey::rsa_2048().public_key()])?.into(),
    )
    .build()?;

    let point_add = testkit::bonifiq_point_add("loyalty-secret");
    run(&bonifiq, &point_add)?;
    run(&bonifiq, &point_add)?; // the provider's retry: answered as a duplicate
    run(
        &bonifiq,
        &testkit::bonifiq_earn_purchase_points("loyalty-secret"),
    )?;
    run(&bonifiq, &testkit::bonifiq_point_add("a guess"))?;
    run(&foody, &testkit::foody_status("dispatched", "foody-token"))?;
    run(&foody, &testkit::foody_hook_test("foody-token"))?;
    run(
        &iset,
        &testkit::iset(IsetKind::OrderUpserted, 1234, "iset-secret"),
    )?;
    run(
        &grafeno,
        &testkit::grafeno_registration("approved", TestKey::rsa_2048()),
    )?;
    run(
        &grafeno,
        &testkit::grafeno_registration("approved", TestKey::rsa_2048()).tamper_signature(),
    )?;
    Ok(())
}
