//! The response future of [`JwtAuth`](crate::JwtAuth).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::keys::set::KeyWait;
use crate::rejection::ResponseForAuthError;
use crate::service::{JwtAuth, PendingCheck};

pin_project! {
    /// The response future of [`JwtAuth`](crate::JwtAuth): the inner service's future, a
    /// rejection that is ready at once, or, when the key of a token has to be fetched first, a
    /// wait for that fetch followed by one of the two; with a revocation store that answers
    /// asynchronously (Redis), the wait for its answer, followed by one of the two.
    pub struct ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, C, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>>,
    {
        Inner {
            #[pin]
            future: S::Future,
        },
        // The two states below are boxed: the future is moved by value on every request, so it
        // stays as small as the inner future on the path of a verified token.
        Rejected {
            response: Option<Box<Response<Bytes>>>,
        },
        WaitingForKeys {
            waiting: Box<Waiting<S, ReqBody, C, R>>,
        },
        CheckingRevocation {
            checking: Box<Checking<S, ReqBody, C, R>>,
        },
    }
}

/// A request whose token waits for a key fetch, with the service that will decide on it.
struct Waiting<S, ReqBody, C, R> {
    wait: KeyWait,
    service: Option<JwtAuth<S, C, R>>,
    request: Option<Request<ReqBody>>,
}

/// An accepted token whose revocation status the store has yet to give, with the service that
/// will hand the request on or refuse it.
struct Checking<S, ReqBody, C, R> {
    pending: Box<PendingCheck<C>>,
    service: Option<JwtAuth<S, C, R>>,
    request: Option<Request<ReqBody>>,
}

impl<S, ReqBody, C, R> ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn inner(future: S::Future) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(Box::new(response)),
            },
        }
    }

    pub(crate) fn waiting(
        wait: KeyWait,
        service: JwtAuth<S, C, R>,
        request: Request<ReqBody>,
    ) -> Self {
        Self {
            state: State::WaitingForKeys {
                waiting: Box::new(Waiting {
                    wait,
                    service: Some(service),
                    request: Some(request),
                }),
            },
        }
    }

    pub(crate) fn checking(
        pending: Box<PendingCheck<C>>,
        service: JwtAuth<S, C, R>,
        request: Request<ReqBody>,
    ) -> Self {
        Self {
            state: State::CheckingRevocation {
                checking: Box::new(Checking {
                    pending,
                    service: Some(service),
                    request: Some(request),
                }),
            },
        }
    }
}

impl<S, ReqBody, C, R> std::fmt::Debug for ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Inner { .. } => "Inner",
            State::Rejected { .. } => "Rejected",
            State::WaitingForKeys { .. } => "WaitingForKeys",
            State::CheckingRevocation { .. } => "CheckingRevocation",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, ReqBody, ResBody, C, R> Future for ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: http_body::Body,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ResponseForAuthError,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project().state.project() {
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::new)));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok((*response).map(ResponseBody::rejection)));
                }
                StateProj::WaitingForKeys { waiting } => {
                    ready!(Pin::new(&mut waiting.wait).poll(cx));
                    let mut service = waiting
                        .service
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let request = waiting
                        .request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    // The fetch has ended: decide again, and this time without fetching.
                    let next = service.decide(request, false);
                    self.as_mut().project().state.set(next.state);
                }
                StateProj::CheckingRevocation { checking } => {
                    let answer = ready!(checking.pending.poll(cx));
                    let granted = checking.pending.take_granted();
                    let mut service = checking
                        .service
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let request = checking
                        .request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    // The store answered: hand the request on, or refuse it.
                    let next = service.after_check(request, granted, answer);
                    self.as_mut().project().state.set(next.state);
                }
            }
        }
    }
}
