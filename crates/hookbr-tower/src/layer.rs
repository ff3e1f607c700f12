use std::{fmt, sync::Arc};

use hookbr_core::Receiver;
use tower_layer::Layer;

use crate::{DefaultRejectionResponse, WebhookService};

/// Applies the hookbr pipeline to requests. See the [crate docs](crate).
pub struct WebhookLayer<V, R = DefaultRejectionResponse> {
    receiver: Arc<Receiver<V>>,
    response: R,
    exact_200: bool,
}

impl<V> WebhookLayer<V> {
    /// A layer running `receiver`.
    #[must_use]
    pub fn new(receiver: Receiver<V>) -> Self {
        Self::from_shared(Arc::new(receiver))
    }

    /// A layer running a receiver shared with other code (to settle claims elsewhere, say).
    #[must_use]
    pub fn from_shared(receiver: Arc<Receiver<V>>) -> Self {
        Self {
            receiver,
            response: DefaultRejectionResponse,
            exact_200: true,
        }
    }
}

impl<V, R> WebhookLayer<V, R> {
    /// Answers rejections with `response` instead of the default JSON body.
    #[must_use]
    pub fn with_rejection_response<R2>(self, response: R2) -> WebhookLayer<V, R2> {
        WebhookLayer {
            receiver: self.receiver,
            response,
            exact_200: self.exact_200,
        }
    }

    /// Whether a successful (2xx) answer of the inner service is sent as exactly `200`
    /// (default `true`: Foody treats every other code, 201 and 204 included, as a failure and
    /// disables endpoints after 10 of them).
    #[must_use]
    pub fn exact_200(mut self, exact: bool) -> Self {
        self.exact_200 = exact;
        self
    }

    /// The receiver.
    #[must_use]
    pub fn receiver(&self) -> &Arc<Receiver<V>> {
        &self.receiver
    }
}

impl<V, R: Clone> Clone for WebhookLayer<V, R> {
    fn clone(&self) -> Self {
        Self {
            receiver: self.receiver.clone(),
            response: self.response.clone(),
            exact_200: self.exact_200,
        }
    }
}

impl<V, R: fmt::Debug> fmt::Debug for WebhookLayer<V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookLayer")
            .field("receiver", &self.receiver)
            .field("response", &self.response)
            .field("exact_200", &self.exact_200)
            .finish()
    }
}

impl<S, V, R: Clone> Layer<S> for WebhookLayer<V, R> {
    type Service = WebhookService<S, V, R>;

    fn layer(&self, inner: S) -> Self::Service {
        WebhookService::new(
            inner,
            self.receiver.clone(),
            self.response.clone(),
            self.exact_200,
        )
    }
}
