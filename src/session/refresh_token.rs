//! Opaque refresh tokens: issuing them under a [`RefreshTokenKey`], the checks before any store
//! access, their SHA-256 ([`TokenHash`], the only form a store keeps), and the successor pair
//! sealed under a key derived from the presented token ([`SealedSuccessor`]).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest;
use ring::hkdf;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The longest refresh token accepted: anything longer is refused before any store access.
/// The tokens this crate issues are at most 174 characters (see [`RefreshToken`]).
pub const MAX_REFRESH_TOKEN_LEN: usize = 512;

/// Random bytes in a refresh token (256 bits).
const TOKEN_BYTES: usize = 32;
/// Bytes of the MAC at the end of a refresh token (HMAC-SHA256).
const MAC_BYTES: usize = 32;
/// First byte of a refresh token: the format version.
const TOKEN_VERSION: u8 = 1;
/// The shortest secret [`RefreshTokenKey::new`] and [`RefreshTokenKey::derive`] accept.
pub const MIN_REFRESH_KEY_LEN: usize = 32;
/// HKDF salt of [`RefreshTokenKey::derive`].
const KEY_SALT: &[u8] = b"tower-jwt-auth/session/refresh-key-salt/v1";
/// HKDF info of [`RefreshTokenKey::derive`].
const KEY_INFO: &[u8] = b"tower-jwt-auth/session/refresh-token-mac/v1";

/// HKDF salt for the successor key: a fixed domain separator (the token itself carries the
/// entropy).
const SEAL_SALT: &[u8] = b"tower-jwt-auth/session/successor-salt/v1";
/// HKDF info for the successor key.
const SEAL_INFO: &[u8] = b"tower-jwt-auth/session/successor-key/v1";
/// Additional authenticated data of a sealed successor.
const SEAL_AAD: &[u8] = b"tower-jwt-auth/session/successor/v1";
/// First byte of a sealed successor: the format version.
const SEAL_VERSION: u8 = 1;
/// First byte of a successor pair's plaintext encoding.
const PAIR_VERSION: u8 = 1;

/// The server-side key that signs refresh tokens (HMAC-SHA256, ring): a token names its session
/// and carries a MAC under this key (see [`RefreshToken`]).
///
/// Every instance of a service that shares a session store must use the same key, and keep it
/// across restarts: a token signed under another key is `invalid_refresh_token`. Give it to
/// [`SessionsBuilder::refresh_token_key`](super::SessionsBuilder::refresh_token_key); without
/// one, [`Sessions`](super::Sessions) makes a random key per process, which only a store that
/// lives in one process (the [`MemoryStore`](super::MemoryStore)) accepts. Changing the key
/// logs every session out at its next refresh. Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct RefreshTokenKey(hmac::Key);

impl RefreshTokenKey {
    /// A key from a dedicated secret of at least 32 bytes (for example 32 random bytes from a
    /// secret manager), used as the HMAC-SHA256 key as is.
    pub fn new(secret: &[u8]) -> Result<Self, SessionCryptoError> {
        if secret.len() < MIN_REFRESH_KEY_LEN {
            return Err(SessionCryptoError::WeakKey);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A key derived from a secret the service already has (for example the HS256 secret of
    /// its access tokens) with HKDF-SHA256 and a label of its own, so that the refresh token
    /// MAC never equals any other use of that secret. The secret must be at least 32 bytes.
    /// Rotating that secret then changes this key too, which logs every session out.
    pub fn derive(secret: &[u8]) -> Result<Self, SessionCryptoError> {
        if secret.len() < MIN_REFRESH_KEY_LEN {
            return Err(SessionCryptoError::WeakKey);
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, KEY_SALT).extract(secret);
        let okm = prk
            .expand(&[KEY_INFO], hmac::HMAC_SHA256)
            .map_err(|_| SessionCryptoError::Seal)?;
        Ok(Self(hmac::Key::from(okm)))
    }

    /// A random key (256 bits from ring's [`SystemRandom`]): good for one process only.
    pub fn generate() -> Result<Self, SessionCryptoError> {
        let rng = SystemRandom::new();
        hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map(Self)
            .map_err(|_| SessionCryptoError::Random)
    }

    /// A new refresh token of session `sid`: the version, the session id, 256 random bits
    /// from ring's [`SystemRandom`] and the MAC, in base64url without padding.
    pub fn issue(&self, sid: &SessionId) -> Result<RefreshToken, SessionCryptoError> {
        let sid = sid.as_str().as_bytes();
        // A SessionId is at most 64 bytes, so its length fits the one length byte.
        let sid_len = u8::try_from(sid.len()).map_err(|_| SessionCryptoError::Seal)?;
        let mut raw = Vec::with_capacity(2 + sid.len() + TOKEN_BYTES + MAC_BYTES);
        raw.push(TOKEN_VERSION);
        raw.push(sid_len);
        raw.extend_from_slice(sid);
        let mut random = [0u8; TOKEN_BYTES];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| SessionCryptoError::Random)?;
        raw.extend_from_slice(&random);
        let tag = hmac::sign(&self.0, &raw);
        raw.extend_from_slice(tag.as_ref());
        Ok(RefreshToken(URL_SAFE_NO_PAD.encode(raw).into_boxed_str()))
    }

    /// The session a presented token belongs to, when its MAC verifies under this key (ring's
    /// constant-time check). Touches no store: a token that fails here is
    /// `invalid_refresh_token` and changes nothing.
    pub fn verify(&self, token: &RefreshToken) -> Result<SessionId, InvalidRefreshToken> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.as_str())
            .map_err(|_| InvalidRefreshToken::Malformed)?;
        let (signed, tag) = raw
            .split_last_chunk::<MAC_BYTES>()
            .ok_or(InvalidRefreshToken::Malformed)?;
        let (&version, rest) = signed.split_first().ok_or(InvalidRefreshToken::Malformed)?;
        let (&sid_len, rest) = rest.split_first().ok_or(InvalidRefreshToken::Malformed)?;
        let sid_len = usize::from(sid_len);
        if version != TOKEN_VERSION
            || sid_len == 0
            || sid_len > MAX_SESSION_ID_LEN
            || rest.len() != sid_len + TOKEN_BYTES
        {
            return Err(InvalidRefreshToken::Malformed);
        }
        hmac::verify(&self.0, signed, tag).map_err(|_| InvalidRefreshToken::NotIssuedHere)?;
        let sid = rest.get(..sid_len).ok_or(InvalidRefreshToken::Malformed)?;
        std::str::from_utf8(sid)
            .ok()
            .and_then(SessionId::parse)
            .ok_or(InvalidRefreshToken::Malformed)
    }
}

impl fmt::Debug for RefreshTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshTokenKey(<redacted>)")
    }
}

/// An opaque refresh token, as issued by [`RefreshTokenKey::issue`] or presented by a client
/// ([`parse`](Self::parse)).
///
/// Its `Debug` output never shows the token; [`as_str`](Self::as_str) gives it to whoever hands
/// it to the client.
///
/// # Format
/// A refresh token is one base64url string without padding (never a JWT, no `.` in it) over
///
/// | bytes | what |
/// |---|---|
/// | 1 | the format version (1) |
/// | 1 | the length `n` of the session id |
/// | `n` | the session id (`sid`, at most 64 characters) |
/// | 32 | 256 random bits from ring's [`SystemRandom`] |
/// | 32 | HMAC-SHA256 over everything before it, under the [`RefreshTokenKey`] |
///
/// A token of a generated session id (22 characters) is 118 characters long; the longest
/// possible one is 174, well under [`MAX_REFRESH_TOKEN_LEN`].
///
/// # Why the token names its session, and why it is signed
/// The store keeps only the SHA-256 of a session's *current* token (and, for the grace window,
/// of its direct predecessor), so that a session's memory does not grow with its rotations.
/// A presented token whose MAC verifies was issued by the service for the session it names:
/// if that session is live and the token's hash is neither current nor in the grace window,
/// the token was rotated before, and presenting it is reuse (the session ends). A token whose
/// MAC does not verify is refused as `invalid_refresh_token` before any store access, so
/// nobody can end someone else's session by fabricating a token that names it. The MAC is
/// checked with ring's constant-time comparison; the store is looked up by session id and the
/// token's hash is compared as a hash, so timing reveals nothing about stored tokens.
///
/// ```
/// use tower_jwt_auth::session::{
///     RefreshToken, RefreshTokenKey, SealedSuccessor, SessionId, SuccessorPair,
/// };
///
/// let key = RefreshTokenKey::derive(b"a configured secret of at least 32 bytes")?;
/// let sid = SessionId::generate()?;
/// let presented = key.issue(&sid)?;
/// // What a client sends back is checked before any store access: its form, then its MAC.
/// let parsed = RefreshToken::parse(presented.as_str())?;
/// assert_eq!(key.verify(&parsed)?, sid);
/// assert!(RefreshToken::parse("not base64url!").is_err());
/// let other_key = RefreshTokenKey::generate()?;
/// assert!(other_key.verify(&parsed).is_err());
///
/// // The successor pair is kept for the grace window only in sealed form.
/// let successor = SuccessorPair {
///     access_token: "eyJ...".to_owned(),
///     access_expires_at: 1_900_000_000,
///     refresh_token: key.issue(&sid)?,
/// };
/// let sealed = SealedSuccessor::seal(&presented, &successor)?;
/// assert_eq!(sealed.open(&presented)?, successor);
/// assert!(sealed.open(&key.issue(&sid)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(Box<str>);

impl RefreshToken {
    /// Checks a presented token without touching any store: it must be 1 to
    /// [`MAX_REFRESH_TOKEN_LEN`] bytes of the base64url alphabet (`A-Z a-z 0-9 - _`, no padding).
    /// A token that passes is not necessarily known; only the store can say that.
    pub fn parse(token: &str) -> Result<Self, InvalidRefreshToken> {
        if token.is_empty() {
            return Err(InvalidRefreshToken::Empty);
        }
        if token.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(InvalidRefreshToken::TooLong);
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvalidRefreshToken::NotBase64Url);
        }
        Ok(Self(token.into()))
    }

    /// The token, to hand to the client. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the token: the only form a store keeps, and the key of every lookup.
    pub fn hash(&self) -> TokenHash {
        let digest = digest::digest(&digest::SHA256, self.0.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        TokenHash(out)
    }

    /// The AEAD key that seals this token's successor: HKDF-SHA256 over the token.
    fn successor_key(&self) -> Result<LessSafeKey, SessionCryptoError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SEAL_SALT).extract(self.0.as_bytes());
        let okm = prk
            .expand(&[SEAL_INFO], &AES_256_GCM)
            .map_err(|_| SessionCryptoError::Seal)?;
        let mut key = [0u8; 32];
        okm.fill(&mut key).map_err(|_| SessionCryptoError::Seal)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| SessionCryptoError::Seal)?;
        Ok(LessSafeKey::new(unbound))
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// Why a presented refresh token was refused before any store access. Every variant means
/// `invalid_refresh_token` to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidRefreshToken {
    /// The token is empty.
    Empty,
    /// The token is longer than [`MAX_REFRESH_TOKEN_LEN`] bytes.
    TooLong,
    /// The token has a character outside the base64url alphabet (padding included).
    NotBase64Url,
    /// The token is not laid out as a refresh token of this crate (see the [`RefreshToken`] docs).
    Malformed,
    /// The token's MAC does not verify under the [`RefreshTokenKey`]: forged, altered, or
    /// issued under another key.
    NotIssuedHere,
}

impl fmt::Display for InvalidRefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the refresh token is empty",
            Self::TooLong => "the refresh token is longer than 512 bytes",
            Self::NotBase64Url => "the refresh token is not base64url",
            Self::Malformed => "the refresh token is malformed",
            Self::NotIssuedHere => "the refresh token was not issued under this key",
        })
    }
}

impl std::error::Error for InvalidRefreshToken {}

/// The SHA-256 of a refresh token: what a store keeps and looks tokens up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// A hash from its 32 bytes (for stores that keep them in another form).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the hash.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash in base64url without padding (43 characters), as the Redis store keys it.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell hashes apart in test output.
        write!(f, "TokenHash(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// The pair a rotation hands out: what the grace window gives again to a second presentation of
/// the same refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessorPair {
    /// The new access token (a JWT).
    pub access_token: String,
    /// The access token's `exp` (seconds since the Unix epoch), so that `expires_in` can be
    /// computed again when the pair is handed out a second time.
    pub access_expires_at: u64,
    /// The new refresh token.
    pub refresh_token: RefreshToken,
}

impl SuccessorPair {
    fn encode(&self) -> Vec<u8> {
        let access = self.access_token.as_bytes();
        let refresh = self.refresh_token.as_str().as_bytes();
        let mut out = Vec::with_capacity(1 + 8 + 4 + access.len() + refresh.len());
        out.push(PAIR_VERSION);
        out.extend_from_slice(&self.access_expires_at.to_be_bytes());
        // An access token longer than 4 GiB cannot exist here: the length saturates and the
        // decoder refuses the result.
        let len = u32::try_from(access.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(access);
        out.extend_from_slice(refresh);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != PAIR_VERSION {
            return None;
        }
        let (exp, rest) = rest.split_first_chunk::<8>()?;
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (access, refresh) = rest.split_at(len);
        let access_token = String::from_utf8(access.to_vec()).ok()?;
        let refresh_token = RefreshToken::parse(std::str::from_utf8(refresh).ok()?).ok()?;
        Some(Self {
            access_token,
            access_expires_at: u64::from_be_bytes(*exp),
            refresh_token,
        })
    }
}

/// A [`SuccessorPair`] sealed under a key derived from the presented (predecessor) refresh
/// token: HKDF-SHA256 over the token, then AES-256-GCM with a random nonce. The store keeps it
/// for the grace window; without the presented token it is useless, and the store only knows
/// that token's hash.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSuccessor(Vec<u8>);

impl SealedSuccessor {
    /// Seals `successor` under a key derived from `presented`.
    pub fn seal(
        presented: &RefreshToken,
        successor: &SuccessorPair,
    ) -> Result<Self, SessionCryptoError> {
        let key = presented.successor_key()?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SessionCryptoError::Random)?;
        let mut body = successor.encode();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(SEAL_AAD),
            &mut body,
        )
        .map_err(|_| SessionCryptoError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(Self(out))
    }

    /// Opens the pair with the presented token; any other token, or altered bytes, fail.
    pub fn open(&self, presented: &RefreshToken) -> Result<SuccessorPair, SessionCryptoError> {
        let (&version, rest) = self.0.split_first().ok_or(SessionCryptoError::Open)?;
        if version != SEAL_VERSION {
            return Err(SessionCryptoError::Open);
        }
        let (nonce, body) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(SessionCryptoError::Open)?;
        if body.len() < aead::AES_256_GCM.tag_len() {
            return Err(SessionCryptoError::Open);
        }
        let key = presented.successor_key()?;
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(SEAL_AAD),
                &mut body,
            )
            .map_err(|_| SessionCryptoError::Open)?;
        SuccessorPair::decode(plain).ok_or(SessionCryptoError::Open)
    }

    /// The sealed bytes, as a store keeps them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Sealed bytes read back from a store. Nothing is checked until [`open`](Self::open).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }
}

impl fmt::Debug for SealedSuccessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSuccessor({} bytes)", self.0.len())
    }
}

/// A failure of the session's own cryptography: the system RNG, sealing, or opening a sealed
/// successor (wrong token or altered bytes). Its message names no token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionCryptoError {
    /// The system's random number generator failed.
    Random,
    /// Sealing a successor pair failed.
    Seal,
    /// A sealed successor did not open with the presented token, or its contents were altered.
    Open,
    /// A refresh token key secret is shorter than [`MIN_REFRESH_KEY_LEN`] bytes.
    WeakKey,
}

impl fmt::Display for SessionCryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Random => "the system random number generator failed",
            Self::Seal => "sealing the successor tokens failed",
            Self::Open => "the sealed successor tokens did not open with the presented token",
            Self::WeakKey => "the refresh token key must be at least 32 bytes",
        })
    }
}

impl std::error::Error for SessionCryptoError {}

// ---------------------------------------------------------------------------------------------
// Session ids, which refresh tokens name.

/// The longest session id a [`SessionId`] accepts.
pub const MAX_SESSION_ID_LEN: usize = 64;

/// A session id (the `sid` claim): 1 to 64 characters of the base64url alphabet.
/// [`generate`](Self::generate) makes a random one (128 bits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Box<str>);

impl SessionId {
    /// A new random session id: 16 bytes from ring's `SystemRandom`, base64url (22 characters).
    pub fn generate() -> Result<Self, SessionCryptoError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SessionCryptoError::Random)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes).into_boxed_str()))
    }

    /// Checks a session id: 1 to [`MAX_SESSION_ID_LEN`] characters of `A-Z a-z 0-9 - _`.
    pub fn parse(sid: &str) -> Option<Self> {
        is_plain_id(sid, MAX_SESSION_ID_LEN).then(|| Self(sid.into()))
    }

    /// The id as a string (what goes into the `sid` claim).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is 1 to `max` characters of the base64url alphabet.
pub(crate) fn is_plain_id(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RefreshTokenKey {
        RefreshTokenKey::new(&[7; 32]).unwrap()
    }

    fn token() -> RefreshToken {
        key().issue(&SessionId::generate().unwrap()).unwrap()
    }

    fn pair() -> SuccessorPair {
        SuccessorPair {
            access_token: "header.payload.signature".to_owned(),
            access_expires_at: 1_800_000_000,
            refresh_token: token(),
        }
    }

    #[test]
    fn session_refresh_tokens_name_their_session_and_carry_256_random_bits_and_a_mac() {
        let sid = SessionId::generate().unwrap();
        let a = key().issue(&sid).unwrap();
        let b = key().issue(&sid).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 118);
        let raw = URL_SAFE_NO_PAD.decode(a.as_str()).unwrap();
        assert_eq!(raw.len(), 2 + 22 + 32 + 32);
        assert_eq!(&raw[2..24], sid.as_str().as_bytes());
        assert_ne!(
            raw[24..56],
            URL_SAFE_NO_PAD.decode(b.as_str()).unwrap()[24..56]
        );
        assert!(!a.as_str().contains('.'), "never a JWT");
        assert_eq!(RefreshToken::parse(a.as_str()).unwrap(), a);
        assert_eq!(key().verify(&a).unwrap(), sid);

        // The longest session id still fits well within the limit.
        let long = SessionId::parse(&"s".repeat(MAX_SESSION_ID_LEN)).unwrap();
        let t = key().issue(&long).unwrap();
        assert_eq!(t.as_str().len(), 174);
        assert_eq!(key().verify(&t).unwrap(), long);
    }

    #[test]
    fn session_refresh_forged_or_altered_tokens_do_not_verify() {
        let sid = SessionId::generate().unwrap();
        let good = key().issue(&sid).unwrap();
        // Another key.
        let other = RefreshTokenKey::new(&[8; 32]).unwrap();
        assert_eq!(other.verify(&good), Err(InvalidRefreshToken::NotIssuedHere));
        // A token fabricated for a real session id, with a made-up MAC.
        let mut raw = URL_SAFE_NO_PAD.decode(good.as_str()).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let forged = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&raw)).unwrap();
        assert_eq!(
            key().verify(&forged),
            Err(InvalidRefreshToken::NotIssuedHere)
        );
        // Another session id spliced into a valid token.
        let mut raw = URL_SAFE_NO_PAD.decode(good.as_str()).unwrap();
        raw[2] = if raw[2] == b'A' { b'B' } else { b'A' };
        let spliced = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&raw)).unwrap();
        assert_eq!(
            key().verify(&spliced),
            Err(InvalidRefreshToken::NotIssuedHere)
        );
        // Truncations, wrong versions, wrong lengths and non-canonical base64url.
        for len in [0, 1, 2, 10, 40, raw.len() - 1] {
            let t = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&raw[..len]));
            if let Ok(t) = t {
                assert!(key().verify(&t).is_err(), "{len}");
            }
        }
        let mut versioned = URL_SAFE_NO_PAD.decode(good.as_str()).unwrap();
        versioned[0] = 2;
        let t = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&versioned)).unwrap();
        assert_eq!(key().verify(&t), Err(InvalidRefreshToken::Malformed));
        let mut padded = good.as_str().to_owned();
        padded.push('A');
        let t = RefreshToken::parse(&padded).unwrap();
        assert!(key().verify(&t).is_err());
        // 118 characters carry 4 spare bits: a different last character with the same bytes
        // is refused, so that one token has exactly one spelling (and one hash).
        let mut chars: Vec<u8> = good.as_str().bytes().collect();
        let last = chars.len() - 1;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = alphabet.iter().position(|&c| c == chars[last]).unwrap();
        chars[last] = alphabet[pos ^ 1];
        let t = RefreshToken::parse(std::str::from_utf8(&chars).unwrap()).unwrap();
        assert!(key().verify(&t).is_err());
    }

    #[test]
    fn session_refresh_keys_need_32_bytes_and_derive_apart_from_their_secret() {
        assert_eq!(
            RefreshTokenKey::new(&[1; 31]).unwrap_err(),
            SessionCryptoError::WeakKey
        );
        assert_eq!(
            RefreshTokenKey::derive(&[1; 31]).unwrap_err(),
            SessionCryptoError::WeakKey
        );
        let secret = [9u8; 32];
        let sid = SessionId::generate().unwrap();
        let derived = RefreshTokenKey::derive(&secret).unwrap();
        let t = derived.issue(&sid).unwrap();
        assert_eq!(
            RefreshTokenKey::derive(&secret).unwrap().verify(&t),
            Ok(sid)
        );
        assert!(RefreshTokenKey::new(&secret).unwrap().verify(&t).is_err());
        assert!(RefreshTokenKey::generate().unwrap().verify(&t).is_err());
        assert_eq!(format!("{derived:?}"), "RefreshTokenKey(<redacted>)");
    }

    #[test]
    fn session_refresh_parse_refuses_empty_oversized_and_foreign_characters() {
        assert_eq!(RefreshToken::parse(""), Err(InvalidRefreshToken::Empty));
        let long = "A".repeat(MAX_REFRESH_TOKEN_LEN + 1);
        assert_eq!(
            RefreshToken::parse(&long),
            Err(InvalidRefreshToken::TooLong)
        );
        assert!(RefreshToken::parse(&"A".repeat(MAX_REFRESH_TOKEN_LEN)).is_ok());
        for bad in ["abc=", "a+b", "a/b", "a b", "a.b.c", "é", "a\0"] {
            assert_eq!(
                RefreshToken::parse(bad),
                Err(InvalidRefreshToken::NotBase64Url),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn session_refresh_hash_is_sha256_of_the_token() {
        let t = RefreshToken::parse("abc").unwrap();
        let expected = digest::digest(&digest::SHA256, b"abc");
        assert_eq!(t.hash().as_bytes().as_slice(), expected.as_ref());
        assert_eq!(t.hash().to_base64url().len(), 43);
    }

    #[test]
    fn session_refresh_debug_never_shows_the_token() {
        let t = token();
        let shown = format!("{t:?} {:?}", pair());
        assert!(!shown.contains(t.as_str()));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn session_refresh_sealed_successor_opens_only_with_the_presented_token() {
        let presented = token();
        let successor = pair();
        let sealed = SealedSuccessor::seal(&presented, &successor).unwrap();
        assert_eq!(sealed.open(&presented).unwrap(), successor);

        // Neither token appears in the sealed bytes.
        let bytes = sealed.as_bytes();
        for secret in [
            successor.refresh_token.as_str(),
            successor.access_token.as_str(),
        ] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
        // Random nonces: two seals differ.
        assert_ne!(
            SealedSuccessor::seal(&presented, &successor).unwrap(),
            sealed
        );

        let other = token();
        assert_eq!(sealed.open(&other), Err(SessionCryptoError::Open));
        let mut altered = bytes.to_vec();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(
            SealedSuccessor::from_bytes(altered).open(&presented),
            Err(SessionCryptoError::Open)
        );
        for len in [0, 1, 5, 13, 28] {
            assert_eq!(
                SealedSuccessor::from_bytes(&bytes[..len.min(bytes.len())]).open(&presented),
                Err(SessionCryptoError::Open)
            );
        }
    }

    #[test]
    fn session_refresh_pair_decoding_refuses_truncations() {
        let original = pair();
        let encoded = original.encode();
        for len in 0..13 {
            assert!(SuccessorPair::decode(&encoded[..len]).is_none());
        }
        assert_eq!(SuccessorPair::decode(&encoded), Some(original));
    }
}
