//! Reuse detection emits a `warn` event with the subject and the session, and never a token. A
//! test binary of its own, so that the subscriber can be the process-wide one.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::session::{Grant, MemoryStore, SessionErrorKind, Sessions};
use tower_jwt_auth::{Algorithm, SigningKey};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn reuse_warns_with_subject_and_session_never_a_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let clock = Clock::manual(SystemTime::now());
    let sessions = Sessions::builder()
        .signing_key(
            SigningKey::hmac(Algorithm::HS256, b"sessions-tracing-secret-32-bytes").unwrap(),
        )
        .and_then(|b| b.issuer("https://issuer.example"))
        .unwrap()
        .clock(clock.clone())
        .store(MemoryStore::builder().clock(clock.clone()).build())
        .build()
        .unwrap();
    let first = sessions.open(Grant::new("alice-tracing")).await.unwrap();
    let second = sessions.refresh(first.refresh_token()).await.unwrap();
    clock.advance(Duration::from_secs(11));
    let error = sessions.refresh(first.refresh_token()).await.unwrap_err();
    assert_eq!(error.kind(), SessionErrorKind::RefreshReused);

    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let warn: Vec<&str> = out.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warn.len(), 1, "{out}");
    assert!(warn[0].contains("sub=alice-tracing"), "{out}");
    assert!(warn[0].contains("sid="), "{out}");
    for token in [
        first.refresh_token(),
        first.access_token(),
        second.refresh_token(),
        second.access_token(),
    ] {
        assert!(!out.contains(token), "a token in the log: {out}");
    }
}
