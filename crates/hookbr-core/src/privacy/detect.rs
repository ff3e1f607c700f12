//! Value detectors: CPF, CNPJ, e-mail and Brazilian phone numbers, whole values or inside text.

/// Whether `value` is a CPF with valid check digits: `123.456.789-09` or `12345678909`
/// (surrounding whitespace ignored). Eleven equal digits (`111.111.111-11`) pass the check-digit
/// arithmetic but are not issued, so they are refused.
///
/// ```
/// use hookbr_core::privacy::is_cpf;
///
/// assert!(is_cpf("529.982.247-25"));
/// assert!(is_cpf("52998224725"));
/// assert!(!is_cpf("529.982.247-26")); // wrong check digit
/// assert!(!is_cpf("152740926"));
/// ```
#[must_use]
pub fn is_cpf(value: &str) -> bool {
    let value = value.trim();
    let digits = match shaped_digits::<11>(value, b"ddd.ddd.ddd-dd") {
        Some(digits) => digits,
        None => return false,
    };
    cpf_digits_valid(&digits)
}

/// Whether `value` is a CNPJ with valid check digits: `11.222.333/0001-81` or `11222333000181`
/// (surrounding whitespace ignored); fourteen equal digits are refused.
///
/// ```
/// use hookbr_core::privacy::is_cnpj;
///
/// assert!(is_cnpj("11.222.333/0001-81"));
/// assert!(is_cnpj("11222333000181"));
/// assert!(!is_cnpj("11.222.333/0001-82"));
/// ```
#[must_use]
pub fn is_cnpj(value: &str) -> bool {
    let value = value.trim();
    let digits = match shaped_digits::<14>(value, b"dd.ddd.ddd/dddd-dd") {
        Some(digits) => digits,
        None => return false,
    };
    cnpj_digits_valid(&digits)
}

/// Whether `value` is an e-mail address: `local@domain.tld`, where the local part uses the
/// usual characters (letters, digits, `._%+-`), the domain has at least two labels of letters,
/// digits and `-`, and the last label is at least two letters.
///
/// ```
/// use hookbr_core::privacy::is_email;
///
/// assert!(is_email("teste@bonifiq.com.br"));
/// assert!(!is_email("@bonifiq.com.br"));
/// assert!(!is_email("Point_Add"));
/// ```
#[must_use]
pub fn is_email(value: &str) -> bool {
    let value = value.trim();
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    email_local_ok(local) && email_domain_ok(domain)
}

/// Whether `value` is a Brazilian phone number with its area code (DDD): optionally `+55` or
/// `55` first, a valid DDD (`11`–`99` as assigned, optionally in parentheses), then a 9-digit
/// mobile number starting with `9` or an 8-digit landline starting with `2`–`5`, with spaces,
/// `-` or `.` between groups: `+55 (11) 98719-8778`, `11987198778`, `(21) 3456-7890`.
/// Numbers without a DDD are not recognized (too many other values look like them).
///
/// ```
/// use hookbr_core::privacy::is_br_phone;
///
/// assert!(is_br_phone("11987198778"));
/// assert!(is_br_phone("+55 (11) 98719-8778"));
/// assert!(is_br_phone("(21) 3456-7890"));
/// assert!(!is_br_phone("2024-03-01 13"));
/// assert!(!is_br_phone("152740926"));
/// ```
#[must_use]
pub fn is_br_phone(value: &str) -> bool {
    phone_digits(value.trim()).is_some()
}

/// What a detector found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    Cpf,
    Cnpj,
    Phone,
}

/// Classifies a candidate made of digits and separators.
pub(crate) fn classify_number(value: &str) -> Option<Found> {
    if is_cpf(value) {
        Some(Found::Cpf)
    } else if is_cnpj(value) {
        Some(Found::Cnpj)
    } else if is_br_phone(value) {
        Some(Found::Phone)
    } else {
        None
    }
}

/// The digits of `value` if it is exactly `N` bare digits or matches `shape` (`d` = a digit,
/// anything else = that byte).
fn shaped_digits<const N: usize>(value: &str, shape: &[u8]) -> Option<[u8; N]> {
    let bytes = value.as_bytes();
    let mut digits = [0_u8; N];
    if bytes.len() == N {
        for (slot, &byte) in digits.iter_mut().zip(bytes) {
            if !byte.is_ascii_digit() {
                return None;
            }
            *slot = byte - b'0';
        }
        return Some(digits);
    }
    if bytes.len() != shape.len() {
        return None;
    }
    let mut slots = digits.iter_mut();
    for (&byte, &want) in bytes.iter().zip(shape) {
        if want == b'd' {
            if !byte.is_ascii_digit() {
                return None;
            }
            *slots.next()? = byte - b'0';
        } else if byte != want {
            return None;
        }
    }
    Some(digits)
}

fn check_digit(digits: &[u8], weights: impl Iterator<Item = u32>) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(&digit, weight)| u32::from(digit) * weight)
        .sum();
    let rest = sum % 11;
    if rest < 2 {
        0
    } else {
        // `rest` is 2..=10, so the result is 1..=9.
        u8::try_from(11 - rest).unwrap_or(0)
    }
}

fn all_equal(digits: &[u8]) -> bool {
    digits.windows(2).all(|pair| pair.first() == pair.get(1))
}

fn cpf_digits_valid(digits: &[u8; 11]) -> bool {
    if all_equal(digits) {
        return false;
    }
    let (body, checks) = digits.split_at(9);
    let first = check_digit(body, (2..=10).rev());
    let (with_first, _) = digits.split_at(10);
    let second = check_digit(with_first, (2..=11).rev());
    checks == [first, second]
}

fn cnpj_digits_valid(digits: &[u8; 14]) -> bool {
    if all_equal(digits) {
        return false;
    }
    const WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    let (body, checks) = digits.split_at(12);
    let first = check_digit(body, WEIGHTS.iter().skip(1).copied());
    let (with_first, _) = digits.split_at(13);
    let second = check_digit(with_first, WEIGHTS.iter().copied());
    checks == [first, second]
}

pub(crate) fn email_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-".contains(c)
}

pub(crate) fn email_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

fn email_local_ok(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && local.chars().all(email_local_char)
        && !local.starts_with('.')
        && !local.ends_with('.')
}

fn email_domain_ok(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 255 || !domain.chars().all(email_domain_char) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|label| {
        !label.is_empty() && label.len() <= 63 && !label.starts_with('-') && !label.ends_with('-')
    });
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    labels_ok && tld_ok
}

/// Area codes (DDD) assigned by Anatel.
const DDDS: [u8; 67] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77,
    79, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99,
];

/// The national digits (DDD + number) of a Brazilian phone number, checked as described on
/// [`is_br_phone`].
fn phone_digits(value: &str) -> Option<Vec<u8>> {
    if value.is_empty() || value.len() > 32 {
        return None;
    }
    let mut rest = value;
    let plus = rest.starts_with('+');
    if plus {
        rest = rest.get(1..)?;
    }
    // Structure: separators only between groups, parentheses only around the DDD.
    let mut digits = Vec::with_capacity(13);
    let mut groups = 0_usize;
    let mut in_group = false;
    let mut open_paren = false;
    let mut paren_seen = false;
    let mut last_sep = true;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                if !in_group {
                    groups += 1;
                    in_group = true;
                }
                digits.push(u8::try_from(u32::from(c) - u32::from('0')).ok()?);
                last_sep = false;
            }
            '(' => {
                if paren_seen || in_group && !last_sep {
                    return None;
                }
                paren_seen = true;
                open_paren = true;
                in_group = false;
                last_sep = true;
            }
            ')' => {
                if !open_paren || last_sep {
                    return None;
                }
                open_paren = false;
                in_group = false;
                last_sep = true;
            }
            ' ' | '-' | '.' => {
                if last_sep && c != ' ' {
                    return None;
                }
                in_group = false;
                last_sep = true;
            }
            _ => return None,
        }
    }
    if open_paren || last_sep || groups > 5 {
        return None;
    }
    let national: &[u8] = match digits.len() {
        10 | 11 => {
            if plus {
                return None;
            }
            &digits
        }
        12 | 13 => match digits.split_first_chunk::<2>() {
            Some(([5, 5], national)) => national,
            _ => return None,
        },
        _ => return None,
    };
    let (ddd, number) = national.split_first_chunk::<2>()?;
    let ddd = ddd.first()? * 10 + ddd.get(1)?;
    if !DDDS.contains(&ddd) {
        return None;
    }
    let first = *number.first()?;
    let ok = match number.len() {
        9 => first == 9,
        8 => (2..=5).contains(&first),
        _ => false,
    };
    ok.then(|| national.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpf() {
        for good in [
            "529.982.247-25",
            "52998224725",
            " 529.982.247-25 ",
            "111.444.777-35",
        ] {
            assert!(is_cpf(good), "{good}");
        }
        for bad in [
            "529.982.247-52",
            "111.111.111-11",
            "11111111111",
            "529982247-25",
            "5299822472",
            "529.982.247-2a",
            "",
        ] {
            assert!(!is_cpf(bad), "{bad}");
        }
    }

    #[test]
    fn cnpj() {
        for good in ["11.222.333/0001-81", "11222333000181", "45.997.418/0001-53"] {
            assert!(is_cnpj(good), "{good}");
        }
        for bad in ["11.222.333/0001-18", "00000000000000", "11.222.333/000181"] {
            assert!(!is_cnpj(bad), "{bad}");
        }
    }

    #[test]
    fn email() {
        for good in [
            "teste@bonifiq.com.br",
            "a.b+c@x-y.io",
            "emailwebhook@teste.com.br",
        ] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "teste@bonifiq",
            "teste@.com",
            "teste@bonifiq.c0m",
            "a@b@c.com",
            ".a@b.com",
            "@b.com",
            "Teste Nivel Base",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn phone() {
        for good in [
            "11987198778",
            "(11) 98719-8778",
            "+55 11 98719-8778",
            "+5511987198778",
            "5511987198778",
            "(21) 3456-7890",
            "2134567890",
            "11 9 8719 8778",
        ] {
            assert!(is_br_phone(good), "{good}");
        }
        for bad in [
            "152740926",
            "4740",
            "2024-03-01",
            "2024-03-01 13",
            "20 98719-8778",
            "11 8719-8778",
            "+44 11 98719-8778",
            "+11987198778",
            "((11) 98719-8778",
            "11--98719-8778",
            "98719-8778",
            "1234",
        ] {
            assert!(!is_br_phone(bad), "{bad}");
        }
    }
}
