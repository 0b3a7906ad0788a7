//! Opaque refresh tokens: generation, the checks before any store access, their SHA-256
//! ([`TokenHash`], the only form a store keeps), and the successor pair sealed under a key
//! derived from the presented token ([`SealedSuccessor`]).
//!
//! A refresh token is 32 random bytes from ring's [`SystemRandom`], base64url without padding
//! (43 characters). It is never a JWT: it means nothing outside the store, and the store only
//! knows its SHA-256. Lookups are by that hash, so the time a lookup takes depends on the hash of
//! what was presented, never on how close the presented token is to a stored one.
//!
//! ```
//! use tower_jwt_auth::session::{RefreshToken, SealedSuccessor, SuccessorPair};
//!
//! let presented = RefreshToken::generate()?;
//! // What a client sends back is checked before any store access.
//! let parsed = RefreshToken::parse(presented.as_str())?;
//! assert_eq!(parsed.hash(), presented.hash());
//! assert!(RefreshToken::parse("not base64url!").is_err());
//!
//! // The successor pair is kept for the grace window only in sealed form.
//! let successor = SuccessorPair {
//!     access_token: "eyJ...".to_owned(),
//!     access_expires_at: 1_900_000_000,
//!     refresh_token: RefreshToken::generate()?,
//! };
//! let sealed = SealedSuccessor::seal(&presented, &successor)?;
//! assert_eq!(sealed.open(&presented)?, successor);
//! assert!(sealed.open(&RefreshToken::generate()?).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest;
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// The longest refresh token accepted: anything longer is refused before any store access.
pub const MAX_REFRESH_TOKEN_LEN: usize = 512;

/// Random bytes in a refresh token (256 bits).
const TOKEN_BYTES: usize = 32;

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

/// An opaque refresh token: 32 random bytes, base64url without padding.
///
/// Its `Debug` output never shows the token; [`as_str`](Self::as_str) gives it to whoever hands
/// it to the client.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(Box<str>);

impl RefreshToken {
    /// A new token: 32 bytes from ring's [`SystemRandom`], base64url without padding.
    pub fn generate() -> Result<Self, SessionCryptoError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SessionCryptoError::Random)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes).into_boxed_str()))
    }

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
}

impl fmt::Display for InvalidRefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the refresh token is empty",
            Self::TooLong => "the refresh token is longer than 512 bytes",
            Self::NotBase64Url => "the refresh token is not base64url",
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
}

impl fmt::Display for SessionCryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Random => "the system random number generator failed",
            Self::Seal => "sealing the successor tokens failed",
            Self::Open => "the sealed successor tokens did not open with the presented token",
        })
    }
}

impl std::error::Error for SessionCryptoError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> SuccessorPair {
        SuccessorPair {
            access_token: "header.payload.signature".to_owned(),
            access_expires_at: 1_800_000_000,
            refresh_token: RefreshToken::generate().unwrap(),
        }
    }

    #[test]
    fn session_refresh_tokens_are_32_random_bytes_in_base64url() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        let raw = URL_SAFE_NO_PAD.decode(a.as_str()).unwrap();
        assert_eq!(raw.len(), 32);
        assert!(!a.as_str().contains('.'), "never a JWT");
        assert_eq!(RefreshToken::parse(a.as_str()).unwrap(), a);
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
        let t = RefreshToken::generate().unwrap();
        let shown = format!("{t:?} {:?}", pair());
        assert!(!shown.contains(t.as_str()));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn session_refresh_sealed_successor_opens_only_with_the_presented_token() {
        let presented = RefreshToken::generate().unwrap();
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

        let other = RefreshToken::generate().unwrap();
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
