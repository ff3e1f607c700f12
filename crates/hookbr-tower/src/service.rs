use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
#[cfg(feature = "tracing")]
use hookbr_core::Outcome;
use hookbr_core::{Receiver, RejectionKind, Request as CoreRequest, verify::Verify};
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tower_service::Service;

use crate::{AnswerResponse, HttpHeaders, ResponseFuture, respond};

/// The service built by [`WebhookLayer`](crate::WebhookLayer).
pub struct WebhookService<S, V, R> {
    inner: S,
    receiver: Arc<Receiver<V>>,
    response: R,
}

impl<S, V, R> WebhookService<S, V, R> {
    pub(crate) fn new(inner: S, receiver: Arc<Receiver<V>>, response: R) -> Self {
        Self {
            inner,
            receiver,
            response,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the wrapper.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, V, R: Clone> Clone for WebhookService<S, V, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            receiver: self.receiver.clone(),
            response: self.response.clone(),
        }
    }
}

impl<S: fmt::Debug, V, R: fmt::Debug> fmt::Debug for WebhookService<S, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("inner", &self.inner)
            .field("receiver", &self.receiver)
            .field("response", &self.response)
            .finish()
    }
}

impl<S, V, R, ReqBody, ResBody> Service<Request<ReqBody>> for WebhookService<S, V, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    V: Verify + Send + Sync + 'static,
    R: AnswerResponse<ResBody> + Clone + Send + Sync + 'static,
    ReqBody: Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready goes into the future; a fresh clone stays behind
        // for the next call (tower's documented pattern for services that are Clone).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let future = handle(inner, self.receiver.clone(), self.response.clone(), request);
        #[cfg(feature = "tracing")]
        let future = hookbr_core::trace::in_delivery_span(
            self.receiver.endpoint(),
            future,
            |result: &Result<Response<ResBody>, S::Error>| {
                let response = result.as_ref().ok()?;
                let status = response.status().as_u16();
                Some((
                    status,
                    Outcome::of_response(status, response.extensions().get()),
                ))
            },
        );
        ResponseFuture::new(Box::pin(future))
    }
}

async fn handle<S, V, R, ReqBody, ResBody>(
    mut inner: S,
    receiver: Arc<Receiver<V>>,
    response: R,
    request: Request<ReqBody>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    V: Verify,
    R: AnswerResponse<ResBody>,
    ReqBody: Body + From<Bytes>,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |target| target.as_str());
    let headers = HttpHeaders(&parts.headers);
    let head = CoreRequest::new(&[])
        .with_method(parts.method.as_str())
        .with_target(target)
        .with_headers(&headers);
    let checked = match receiver.check_head(&head) {
        Ok(checked) => checked,
        Err(rejection) => return Ok(respond(&response, rejection.into())),
    };
    let bytes = match Limited::new(body, receiver.body_limit()).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return Ok(respond(&response, receiver.too_large().into()));
        }
        Err(_) => return Ok(respond(&response, RejectionKind::UnreadableBody.into())),
    };
    let accepted = match receiver
        .clone()
        .accept_checked(checked, &head.with_body(&bytes))
        .await
    {
        Ok(accepted) => accepted,
        Err(refused) => return Ok(respond(&response, refused)),
    };

    let (verified, pending) = accepted.into_parts();
    let mut request = Request::from_parts(parts, ReqBody::from(bytes));
    request.extensions_mut().insert(verified);
    pending
        .run(|| inner.call(request), |sent| sent.status().as_u16())
        .await
        .into_result(
            |mut sent, status, _| {
                *sent.status_mut() = StatusCode::from_u16(status).unwrap_or(sent.status());
                sent
            },
            |failed| respond(&response, failed),
        )
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use hookbr_core::{
        Endpoint, Rejection, Secret, Verified,
        testkit::{self, TestDelivery},
        verify::HeaderSecretVerifier,
    };
    use http_body_util::Full;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use super::*;
    use crate::WebhookLayer;

    fn layer(limit: usize) -> WebhookLayer<HeaderSecretVerifier> {
        let verifier = HeaderSecretVerifier::bonifiq([Secret::new("s").unwrap()]).unwrap();
        let receiver = Receiver::builder(Endpoint::Bonifiq, verifier)
            .body_limit(limit)
            .build()
            .unwrap();
        WebhookLayer::new(receiver)
    }

    fn request(delivery: &TestDelivery) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(delivery.method.as_str())
            .uri(delivery.target.as_str());
        for (name, value) in &delivery.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(Bytes::from(delivery.body.clone())))
            .unwrap()
    }

    /// One `delivery` span per request with the delivery's fields, and one `hookbr::rejection`
    /// event per refusal; never the secret.
    #[cfg(feature = "tracing")]
    #[tokio::test]
    async fn traces_a_span_per_delivery() {
        use std::sync::Mutex;

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let service = ServiceBuilder::new().layer(layer(1024)).service(service_fn(
            |_: Request<Full<Bytes>>| async {
                tracing::info!("in the handler");
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            },
        ));
        let delivery = testkit::bonifiq_point_add("s");
        let uuid = serde_json::from_slice::<serde_json::Value>(&delivery.body).unwrap()["Uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        for attempt in [
            &delivery,
            &delivery,
            &testkit::bonifiq_point_add("wrong-secret"),
        ] {
            let _ = service.clone().oneshot(request(attempt)).await.unwrap();
        }
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let handler = log
            .lines()
            .find(|line| line.contains("in the handler"))
            .unwrap();
        assert!(
            handler.contains("delivery{provider=\"bonifiq\" endpoint=bonifiq kind=\"Point_Add\"")
                && handler.contains(&format!("delivery_id=\"{uuid}\"")),
            "{log}"
        );
        let duplicate = log
            .lines()
            .find(|line| line.contains("acknowledged"))
            .unwrap();
        assert!(
            duplicate.contains("TRACE") && duplicate.contains("hookbr::rejection"),
            "{log}"
        );
        assert!(duplicate.contains("outcome=\"duplicate\""), "{log}");
        let rejected = log.lines().find(|line| line.contains("rejected")).unwrap();
        assert!(
            rejected.contains("DEBUG") && rejected.contains("hookbr::rejection"),
            "{log}"
        );
        assert!(
            rejected.contains("reason=\"invalid_secret\"") && rejected.contains("status=401"),
            "{log}"
        );
        assert!(!log.contains("wrong-secret"), "{log}");
    }

    #[tokio::test]
    async fn settles_by_the_inner_status() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let service = ServiceBuilder::new().layer(layer(1024)).service(service_fn(
            move |request: Request<Full<Bytes>>| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert!(request.extensions().get::<Verified>().is_some());
                    let status = if n == 0 { 500 } else { 204 };
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = StatusCode::from_u16(status).unwrap();
                    Ok::<_, Infallible>(response)
                }
            },
        ));
        let delivery = testkit::bonifiq_point_add("s");
        let first = service.clone().oneshot(request(&delivery)).await.unwrap();
        assert_eq!(
            first.status(),
            500,
            "the handler's failure is passed through"
        );
        let retry = service.clone().oneshot(request(&delivery)).await.unwrap();
        assert_eq!(
            retry.status(),
            200,
            "released, so the retry runs; 204 is sent as 200"
        );
        let copy = service.clone().oneshot(request(&delivery)).await.unwrap();
        assert_eq!(copy.status(), 200);
        assert_eq!(copy.headers()["hookbr-duplicate"], "true");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn panic_releases_and_answers_500() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let service = ServiceBuilder::new().layer(layer(1024)).service(service_fn(
            move |_request: Request<Full<Bytes>>| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert!(n > 0, "handler panics the first time");
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                }
            },
        ));
        let delivery = testkit::bonifiq_point_add("s");
        let first = service.clone().oneshot(request(&delivery)).await.unwrap();
        assert_eq!(first.status(), 500);
        let rejection = first.extensions().get::<Rejection>().unwrap();
        assert_eq!(rejection.category(), "handler_failed");
        let retry = service.clone().oneshot(request(&delivery)).await.unwrap();
        assert_eq!(retry.status(), 200);
    }

    #[tokio::test]
    async fn rejections_never_reach_the_inner_service() {
        let forged = testkit::bonifiq_point_add("guess");
        let too_big = testkit::bonifiq_point_add("s");
        for (delivery, limit, status) in [(&forged, 1024, 401), (&too_big, 64, 413)] {
            let service = ServiceBuilder::new()
                .layer(layer(limit))
                .service(service_fn(|_: Request<Full<Bytes>>| async {
                    Err::<Response<Full<Bytes>>, _>("the inner service must not be called")
                }));
            let response = service.oneshot(request(delivery)).await.unwrap();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()["content-type"], "application/json");
            assert!(response.extensions().get::<Rejection>().is_some());
        }
    }

    #[tokio::test]
    async fn cancelled_request_releases_its_claim() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let service = ServiceBuilder::new().layer(layer(1024)).service(service_fn(
            move |_request: Request<Full<Bytes>>| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        // The first call never finishes: its caller gives up.
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                }
            },
        ));
        let delivery = testkit::bonifiq_point_add("s");
        let first = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            service.clone().oneshot(request(&delivery)),
        )
        .await;
        assert!(first.is_err(), "the first call was cancelled");
        let retry = service.clone().oneshot(request(&delivery)).await.unwrap();
        assert_eq!(
            retry.status(),
            200,
            "not 409: the dropped call released its claim"
        );
        assert!(retry.headers().get("hookbr-duplicate").is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
