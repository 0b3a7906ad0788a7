//! The ROCA fingerprint of an RSA modulus (CVE-2017-15361; Nemec et al., "The Return of
//! Coppersmith's Attack", CCS 2017).
//!
//! A flawed key generator (Infineon's RSALib, 2012–2017: TPMs, smart cards, YubiKey 4) made
//! primes of the form `k·M + (65537^a mod M)`, where `M` is the product of the first primes.
//! Their product `n` is then, modulo each small prime `p` dividing `M`, a power of 65537. A
//! random modulus is one with a probability of about 2^-150 over the primes below; a modulus of
//! that generator always is, and its factors can be recovered from it. The published detection
//! test is exactly this: `n mod p` lies in the subgroup that 65537 generates modulo `p`, for
//! every one of these primes. It reads the modulus only; nothing here is a cryptographic
//! primitive.

/// The small primes of the published test.
const PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// The generator of the flawed primes.
const GENERATOR: u32 = 65537;

/// Whether the big-endian modulus `n` has the ROCA fingerprint.
pub(crate) fn has_roca_fingerprint(n: &[u8]) -> bool {
    PRIMES.iter().all(|&p| {
        let residue = n.iter().fold(0u32, |r, &b| (r * 256 + u32::from(b)) % p);
        in_subgroup(residue, p)
    })
}

/// Whether `residue` is a power of [`GENERATOR`] modulo the prime `p`.
fn in_subgroup(residue: u32, p: u32) -> bool {
    let g = GENERATOR % p;
    let mut power = 1 % p;
    // The subgroup has at most p - 1 elements: walk it once.
    for _ in 0..p {
        if power == residue {
            return true;
        }
        power = power * g % p;
        if power == 1 % p {
            return residue == 1 % p;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value · m` for a big-endian number.
    fn times(value: &[u8], m: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(value.len() + 4);
        let mut carry = 0u64;
        for &b in value.iter().rev() {
            let x = u64::from(b) * u64::from(m) + carry;
            out.push((x & 0xff) as u8);
            carry = x >> 8;
        }
        while carry > 0 {
            out.push((carry & 0xff) as u8);
            carry >>= 8;
        }
        out.reverse();
        out
    }

    #[test]
    fn powers_of_the_generator_have_the_fingerprint_others_not() {
        let mut power = vec![1u8];
        for _ in 0..40 {
            power = times(&power, GENERATOR);
            assert!(has_roca_fingerprint(&power));
        }
        // 65537^40 + 2 is 0 modulo 3 (65537 = 2 mod 3, so 65537^40 = 1): never a power.
        let mut plus_two = power.clone();
        if let Some(last) = plus_two.last_mut() {
            *last = last.wrapping_add(2);
        }
        assert!(!has_roca_fingerprint(&plus_two));
        // A product of two ordinary odd numbers is almost never in every subgroup.
        assert!(!has_roca_fingerprint(&times(
            &times(&[0xff; 32], 1_000_003),
            999_983
        )));
    }

    #[test]
    fn subgroups_are_those_of_65537() {
        // 65537 = 2 mod 3: {1, 2}. 65537 = 2 mod 5, a generator: {1, 2, 3, 4}.
        assert!(in_subgroup(1, 3) && in_subgroup(2, 3) && !in_subgroup(0, 3));
        assert!((1..5).all(|r| in_subgroup(r, 5)) && !in_subgroup(0, 5));
        // 65537 = 2 mod 17, of order 8: {1, 2, 4, 8, 9, 13, 15, 16}.
        let members: Vec<u32> = (0..17).filter(|&r| in_subgroup(r, 17)).collect();
        assert_eq!(members, [1, 2, 4, 8, 9, 13, 15, 16]);
    }
}
