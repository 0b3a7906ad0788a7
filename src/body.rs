//! The response body: the inner service's body, or bytes in one frame (a rejection's, or an
//! answer of the session endpoints).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Empty;
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`JwtAuth`](crate::JwtAuth): the inner service's body, or
    /// the bytes of a rejection. It needs no `Default` from the inner body. The
    /// [session endpoints](crate::session::SessionEndpoints) answer with `ResponseBody` (whose
    /// inner body, never used there, defaults to an empty one): their answers in one frame.
    pub struct ResponseBody<B = Empty<Bytes>> {
        #[pin]
        inner: Inner<B>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<B> {
        Body {
            #[pin]
            body: B,
        },
        Rejection {
            data: Option<Bytes>,
        },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(body: B) -> Self {
        Self {
            inner: Inner::Body { body },
        }
    }

    /// `data` in one frame: a rejection, or an answer of the session endpoints.
    pub(crate) fn rejection(data: Bytes) -> Self {
        let data = if data.is_empty() { None } else { Some(data) };
        Self {
            inner: Inner::Rejection { data },
        }
    }
}

impl<B: Default> Default for ResponseBody<B> {
    fn default() -> Self {
        Self::new(B::default())
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Body { .. } => f.write_str("ResponseBody::Body"),
            Inner::Rejection { data } => f
                .debug_struct("ResponseBody::Rejection")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().inner.project() {
            InnerProj::Body { body } => body.poll_frame(cx),
            InnerProj::Rejection { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Body { body } => body.is_end_stream(),
            Inner::Rejection { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Body { body } => body.size_hint(),
            Inner::Rejection { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
