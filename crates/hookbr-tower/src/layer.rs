use std::{fmt, sync::Arc};

use hookbr_core::Receiver;
use tower_layer::Layer;

use crate::{DefaultAnswerResponse, WebhookService};

/// Applies the hookbr pipeline to requests. See the [crate docs](crate).
pub struct WebhookLayer<V, R = DefaultAnswerResponse> {
    receiver: Arc<Receiver<V>>,
    response: R,
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
            response: DefaultAnswerResponse,
        }
    }
}

impl<V, R> WebhookLayer<V, R> {
    /// Answers acknowledgements and refusals with `response` instead of the default JSON body.
    #[must_use]
    pub fn with_answer_response<R2>(self, response: R2) -> WebhookLayer<V, R2> {
        WebhookLayer {
            receiver: self.receiver,
            response,
        }
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
        }
    }
}

impl<V, R: fmt::Debug> fmt::Debug for WebhookLayer<V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookLayer")
            .field("receiver", &self.receiver)
            .field("response", &self.response)
            .finish()
    }
}

impl<S, V, R: Clone> Layer<S> for WebhookLayer<V, R> {
    type Service = WebhookService<S, V, R>;

    fn layer(&self, inner: S) -> Self::Service {
        WebhookService::new(inner, self.receiver.clone(), self.response.clone())
    }
}
