use std::{
    future::{Future, Ready, ready},
    pin::Pin,
    rc::Rc,
    sync::Arc,
};

use actix_web::{
    Error, HttpMessage, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    http::StatusCode,
    rt::time::timeout,
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
#[cfg(feature = "tracing")]
use hookbr_core::Outcome;
use hookbr_core::{
    Answer, ConnectionLimits, Receiver, Rejection, RejectionKind, Request as CoreRequest,
    verify::Verify,
};

use crate::{ActixHeaders, error::answer_response};

/// Runs the hookbr pipeline in front of a resource. See the [crate docs](crate).
pub struct WebhookMiddleware<V> {
    receiver: Arc<Receiver<V>>,
}

impl<V> WebhookMiddleware<V> {
    /// Middleware running `receiver`.
    #[must_use]
    pub fn new(receiver: Receiver<V>) -> Self {
        Self::from_shared(Arc::new(receiver))
    }

    /// Middleware running a receiver shared with other code (or other workers).
    #[must_use]
    pub fn from_shared(receiver: Arc<Receiver<V>>) -> Self {
        Self { receiver }
    }
}

impl<V> Clone for WebhookMiddleware<V> {
    fn clone(&self) -> Self {
        Self {
            receiver: self.receiver.clone(),
        }
    }
}

impl<V> std::fmt::Debug for WebhookMiddleware<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookMiddleware")
            .field("receiver", &self.receiver)
            .finish()
    }
}

impl<S, B, V> Transform<S, ServiceRequest> for WebhookMiddleware<V>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    V: Verify + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = WebhookMiddlewareService<S, V>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(WebhookMiddlewareService {
            service: Rc::new(service),
            receiver: self.receiver.clone(),
        }))
    }
}

/// The service built by [`WebhookMiddleware`].
pub struct WebhookMiddlewareService<S, V> {
    service: Rc<S>,
    receiver: Arc<Receiver<V>>,
}

impl<S, V> std::fmt::Debug for WebhookMiddlewareService<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookMiddlewareService")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A deadline's answer (`408` for the body, `503` for the whole request), closing the
/// connection as hookbr-axum's `serve` does.
fn late(status: StatusCode, why: &'static str) -> HttpResponse {
    HttpResponse::build(status).force_close().body(why)
}

fn answer<B>(request: ServiceRequest, answer: Answer) -> ServiceResponse<EitherBody<B>> {
    request
        .into_response(answer_response(answer))
        .map_into_right_body()
}

/// The request's head as hookbr-core sees it (no body).
fn head<'a>(request: &'a ServiceRequest, headers: &'a ActixHeaders<'a>) -> CoreRequest<'a> {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path(), |target| target.as_str());
    CoreRequest::new(&[])
        .with_method(request.method().as_str())
        .with_target(target)
        .with_headers(headers)
}

/// Reads the body within `limit`. A body that arrives in one chunk (the usual case) is kept
/// as is; only a body in several chunks is copied into one buffer.
async fn read_body(payload: &mut Payload, limit: usize) -> Result<Bytes, Rejection> {
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Rejection::from(RejectionKind::UnreadableBody))?;
        let read = joined.as_ref().map_or(first.len(), BytesMut::len);
        if read + chunk.len() > limit {
            return Err(RejectionKind::PayloadTooLarge { limit }.into());
        }
        match &mut joined {
            Some(buffer) => buffer.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut buffer = BytesMut::with_capacity(first.len() + chunk.len());
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&chunk);
                joined = Some(buffer);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

impl<S, B, V> Service<ServiceRequest> for WebhookMiddlewareService<S, V>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    V: Verify + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let receiver = self.receiver.clone();
        #[cfg(feature = "tracing")]
        let endpoint = receiver.endpoint();
        // Set per connection by `serve::bounded`; the defaults otherwise.
        let limits = request
            .conn_data::<ConnectionLimits>()
            .copied()
            .unwrap_or_default();
        let for_timeout = request.request().clone();
        let future = async move {
            let mut payload = request.take_payload();
            // One head for the checks before the body and for `accept` after it.
            let (accepted, body) = {
                let headers = ActixHeaders(request.headers());
                let head = head(&request, &headers);
                let checked = match receiver.check_head(&head) {
                    Ok(checked) => checked,
                    Err(rejection) => return Ok(answer(request, rejection.into())),
                };
                let read = read_body(&mut payload, receiver.body_limit());
                let body = match timeout(limits.body_timeout, read).await {
                    Ok(Ok(body)) => body,
                    Ok(Err(rejection)) => return Ok(answer(request, rejection.into())),
                    Err(_) => {
                        let response = late(
                            StatusCode::REQUEST_TIMEOUT,
                            "the request body was not received in time",
                        );
                        return Ok(request.into_response(response).map_into_right_body());
                    }
                };
                match receiver
                    .clone()
                    .accept_checked(checked, &head.with_body(&body))
                    .await
                {
                    Ok(accepted) => (accepted, body),
                    Err(refused) => return Ok(answer(request, refused)),
                }
            };
            let (verified, pending) = accepted.into_parts();
            request.extensions_mut().insert(verified);
            let http_request = request.request().clone();
            request.set_payload(Payload::from(body));
            pending
                .run(|| service.call(request), |sent| sent.status().as_u16())
                .await
                .into_result(
                    |mut sent, status, _| {
                        if let Ok(status) = StatusCode::from_u16(status) {
                            *sent.response_mut().status_mut() = status;
                        }
                        sent.map_into_left_body()
                    },
                    |failed| {
                        ServiceResponse::new(http_request, answer_response(failed))
                            .map_into_right_body()
                    },
                )
        };
        let future = async move {
            match timeout(limits.request_timeout, future).await {
                Ok(result) => result,
                Err(_) => Ok(ServiceResponse::new(
                    for_timeout,
                    late(StatusCode::SERVICE_UNAVAILABLE, "the request took too long"),
                )
                .map_into_right_body()),
            }
        };
        #[cfg(feature = "tracing")]
        let future = hookbr_core::trace::in_delivery_span(
            endpoint,
            future,
            |result: &Result<Self::Response, Error>| {
                let response = result.as_ref().ok()?;
                let status = response.status().as_u16();
                let extension = response.response().extensions().get::<Outcome>().copied();
                Some((status, Outcome::of_response(status, extension.as_ref())))
            },
        );
        Box::pin(future)
    }
}
