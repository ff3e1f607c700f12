use std::{
    future::{Future, Ready, ready},
    panic::AssertUnwindSafe,
    pin::Pin,
    rc::Rc,
    sync::Arc,
};

use actix_web::{
    Error, HttpMessage, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    http::StatusCode,
};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt as _, StreamExt as _};
use hookbr_core::{
    Receiver, Rejection, RejectionKind, Request as CoreRequest, SettleGuard, verify::Verify,
};

use crate::{ActixHeaders, Rejected};

/// Runs the hookbr pipeline in front of a resource. See the [crate docs](crate).
pub struct WebhookMiddleware<V> {
    receiver: Arc<Receiver<V>>,
    exact_200: bool,
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
        Self {
            receiver,
            exact_200: true,
        }
    }

    /// Whether a 2xx answer of the handler is sent as exactly `200` (default `true`: Foody treats
    /// 201 and 204 as failures).
    #[must_use]
    pub fn exact_200(mut self, exact: bool) -> Self {
        self.exact_200 = exact;
        self
    }
}

impl<V> Clone for WebhookMiddleware<V> {
    fn clone(&self) -> Self {
        Self {
            receiver: self.receiver.clone(),
            exact_200: self.exact_200,
        }
    }
}

impl<V> std::fmt::Debug for WebhookMiddleware<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookMiddleware")
            .field("receiver", &self.receiver)
            .field("exact_200", &self.exact_200)
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
            exact_200: self.exact_200,
        }))
    }
}

/// The service built by [`WebhookMiddleware`].
pub struct WebhookMiddlewareService<S, V> {
    service: Rc<S>,
    receiver: Arc<Receiver<V>>,
    exact_200: bool,
}

impl<S, V> std::fmt::Debug for WebhookMiddlewareService<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookMiddlewareService")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The rejection's response, with the [`Rejection`] in its extensions for outer logging and
/// metrics middleware (as the tower layer does).
fn rejection_response(rejection: Rejection) -> actix_web::HttpResponse {
    let mut response = Rejected(rejection.clone()).error_response();
    response.extensions_mut().insert(rejection);
    response
}

fn reject<B>(request: ServiceRequest, rejection: Rejection) -> ServiceResponse<EitherBody<B>> {
    request
        .into_response(rejection_response(rejection))
        .map_into_right_body()
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
        let exact_200 = self.exact_200;
        #[cfg(feature = "tracing")]
        let endpoint = receiver.endpoint();
        let future = Box::pin(async move {
            let head_checked = {
                let headers = ActixHeaders(request.headers());
                let target = request
                    .uri()
                    .path_and_query()
                    .map_or_else(|| request.path(), |target| target.as_str());
                let head = CoreRequest::new(&[])
                    .with_method(request.method().as_str())
                    .with_target(target)
                    .with_headers(&headers);
                receiver.check_head(&head)
            };
            if let Err(rejection) = head_checked {
                return Ok(reject(request, rejection));
            }

            let limit = receiver.body_limit();
            let mut payload = request.take_payload();
            // A body that arrives in one chunk (the usual case) is kept as is; only a body in
            // several chunks is copied into one buffer.
            let mut first = Bytes::new();
            let mut joined: Option<BytesMut> = None;
            while let Some(chunk) = payload.next().await {
                let Ok(chunk) = chunk else {
                    return Ok(reject(request, RejectionKind::UnreadableBody.into()));
                };
                let read = joined.as_ref().map_or(first.len(), BytesMut::len);
                if read + chunk.len() > limit {
                    return Ok(reject(request, receiver.too_large()));
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
            let body = joined.map_or(first, BytesMut::freeze);

            let processed = {
                let headers = ActixHeaders(request.headers());
                let target = request
                    .uri()
                    .path_and_query()
                    .map_or_else(|| request.path(), |target| target.as_str());
                let delivery = CoreRequest::new(&body)
                    .with_method(request.method().as_str())
                    .with_target(target)
                    .with_headers(&headers);
                // The head was checked above, before reading the body.
                receiver.process_after_head(&delivery).await
            };
            let (verified, settlement) = match processed {
                Ok(processed) => processed,
                Err(rejection) => return Ok(reject(request, rejection)),
            };

            // Releases the claim if this future is dropped before settling.
            let guard = SettleGuard::new(receiver.clone(), settlement);
            request.extensions_mut().insert(verified);
            let http_request = request.request().clone();
            request.set_payload(Payload::from(body));
            let called = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(request)));
            let outcome = match called {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            match outcome {
                Ok(Ok(mut response)) if response.status().is_success() => {
                    // A failed `complete` only means a retry would run again once the lease
                    // expires; the work is done, so the provider still gets its 200.
                    let _ = guard.settle(true).await;
                    if exact_200 {
                        *response.response_mut().status_mut() = StatusCode::OK;
                    }
                    Ok(response.map_into_left_body())
                }
                Ok(Ok(response)) => {
                    let _ = guard.settle(false).await;
                    Ok(response.map_into_left_body())
                }
                Ok(Err(error)) => {
                    let _ = guard.settle(false).await;
                    Err(error)
                }
                Err(_panic) => {
                    let _ = guard.settle(false).await;
                    let response = rejection_response(RejectionKind::HandlerFailed.into());
                    Ok(ServiceResponse::new(http_request, response).map_into_right_body())
                }
            }
        });
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument as _;
            let span = hookbr_core::trace::delivery_span(endpoint);
            let started = std::time::Instant::now();
            Box::pin(async move {
                let result = future.instrument(span.clone()).await;
                if let Ok(response) = &result {
                    hookbr_core::trace::record_answer(
                        &span,
                        response.status().as_u16(),
                        response.response().extensions().get::<Rejection>(),
                        started.elapsed(),
                    );
                }
                result
            })
        }
        #[cfg(not(feature = "tracing"))]
        future
    }
}
