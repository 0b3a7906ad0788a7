//! TEMPORARY STUB: replaced by helper's ring provider.
#![allow(missing_docs, dead_code)]
use jsonwebtoken::crypto::CryptoProvider;
pub fn ensure_default_provider() -> &'static CryptoProvider {
    CryptoProvider::try_get_default().expect("stub")
}
pub(crate) fn rsa_modulus_bits(_key: &jsonwebtoken::DecodingKey) -> Option<usize> { Some(2048) }
