//! The personal-data map: which documented fields of each provider carry personal data.

use crate::Provider;

/// What kind of personal data a field or value holds; it decides how it is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataClass {
    /// An e-mail address: `j***@e***.com`.
    Email,
    /// A person's name: initials (`T. N. B.`).
    Name,
    /// A phone number: every digit but the last four masked (`*********8778`).
    Phone,
    /// An identity document (CPF, CNPJ, RG, ...): `***.456.789-**` for a CPF,
    /// `**.345.678/****-**` for a CNPJ, else all but the last two characters masked.
    Document,
    /// A date of birth: only the year kept (`2024-**-**T**:**:**`).
    BirthDate,
    /// An address (street, number, postcode): masked like free text.
    Address,
    /// Free text about a person (Grafeno pendencies): replaced by `[masked text, N characters]`.
    FreeText,
    /// Authentication material that should never have been stored (Foody's body `token`):
    /// `[redacted]`.
    Secret,
}

impl DataClass {
    /// A short lower-case name: `email`, `name`, `phone`, `document`, `birth_date`, `address`,
    /// `free_text`, `secret`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Name => "name",
            Self::Phone => "phone",
            Self::Document => "document",
            Self::BirthDate => "birth_date",
            Self::Address => "address",
            Self::FreeText => "free_text",
            Self::Secret => "secret",
        }
    }
}

/// One documented field that carries personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PersonalField {
    /// The provider.
    pub provider: Provider,
    /// The event kinds it appears in (as [`WebhookEvent::kind`](crate::WebhookEvent::kind)
    /// returns them); empty: every kind except BonifiQ's `custom` bodies.
    pub kinds: &'static [&'static str],
    /// The JSON path from the body's root: object keys joined by `.`, `[]` for "every element
    /// of an array" (`data.pendencies[].text`).
    pub path: &'static str,
    /// What it holds.
    pub class: DataClass,
    /// Where the field is documented (seed file and section, or providers.md section).
    pub source: &'static str,
}

const fn field(
    provider: Provider,
    path: &'static str,
    class: DataClass,
    source: &'static str,
) -> PersonalField {
    PersonalField {
        provider,
        kinds: &[],
        path,
        class,
        source,
    }
}

/// The map. Foody's webhook body (`uid`, `updateDate`, `event`, `token`, `status`, seed 002)
/// and Grafeno's charge `data` (providers.md §4.2) document no field about a person; iSET
/// documents no body at all (seed 003). Their bodies are covered by the value detectors and the
/// field-name rules only.
pub(crate) const MAP: &[PersonalField] = &[
    field(
        Provider::Bonifiq,
        "Payload.Customer.Email",
        DataClass::Email,
        "seed 000 (BQ-INTRO-OLD), \"Payload\" example; seed 001, \"Objeto Cliente (Customer)\": \"Endereço de e-mail principal do cliente\"",
    ),
    field(
        Provider::Bonifiq,
        "Payload.Customer.Name",
        DataClass::Name,
        "seed 001, \"Objeto Cliente (Customer)\": \"Nome completo do cliente\"",
    ),
    field(
        Provider::Bonifiq,
        "Payload.Customer.Phone",
        DataClass::Phone,
        "seed 001, \"Objeto Cliente (Customer)\": \"Número de telefone com código do país\"; BQ-COMM example 11987198778 (providers.md §1.5)",
    ),
    field(
        Provider::Bonifiq,
        "Payload.Customer.Document",
        DataClass::Document,
        "seed 001, \"Objeto Cliente (Customer)\": \"Documento de identificação (ex: CPF)\"",
    ),
    field(
        Provider::Bonifiq,
        "Payload.Customer.BirthdayDate",
        DataClass::BirthDate,
        "seed 001, \"Objeto Cliente (Customer)\": \"Data de nascimento (ISO 8601)\"",
    ),
    field(
        Provider::Foody,
        "token",
        DataClass::Secret,
        "seed 002, \"Exemplo de payload\": the trigger's authorization token (a secret, not personal data; masked as well)",
    ),
    field(
        Provider::Grafeno,
        "data.pendencies[].text",
        DataClass::FreeText,
        "seed 004, \"Estrutura dos webhooks\": data.pendencies.text, \"pendência do cadastro\" (example: \"O RG do sócio está expirado.\")",
    ),
];

/// The documented personal-data fields of `provider`.
///
/// ```
/// use hookbr_core::{Provider, privacy::{DataClass, personal_fields}};
///
/// let email = personal_fields(Provider::Bonifiq)
///     .find(|field| field.path == "Payload.Customer.Email")
///     .unwrap();
/// assert_eq!(email.class, DataClass::Email);
/// ```
pub fn personal_fields(provider: Provider) -> impl Iterator<Item = &'static PersonalField> {
    MAP.iter().filter(move |field| field.provider == provider)
}

/// The class the field-name rules give a key of an unmapped field, for bodies whose shape is
/// not documented (custom BonifiQ templates, iSET, unknown kinds). The key is compared
/// lower-cased with everything but letters and digits removed (`customer_e-mail` →
/// `customeremail`).
pub(crate) fn class_of_key(key: &str) -> Option<DataClass> {
    // Keys are short: normalised on the stack (a longer one spills to the heap), and each rule
    // compares bytes only where the first byte matches (this runs for every key of every stored
    // body: `str::contains` and the `String` were most of the erasure index's cost).
    let mut stack = [0_u8; 64];
    let mut heap = Vec::new();
    let mut len = 0;
    for byte in key.bytes().filter(u8::is_ascii_alphanumeric) {
        let byte = byte.to_ascii_lowercase();
        if let Some(slot) = stack.get_mut(len) {
            *slot = byte;
            len += 1;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack);
            }
            heap.push(byte);
        }
    }
    let key: &[u8] = if heap.is_empty() {
        stack.get(..len).unwrap_or_default()
    } else {
        &heap
    };
    let has = |part: &str| {
        let part = part.as_bytes();
        part.first().is_some_and(|&first| {
            key.windows(part.len())
                .any(|window| window.first() == Some(&first) && window == part)
        })
    };
    if has("email") {
        Some(DataClass::Email)
    } else if has("cpf") || has("cnpj") || has("documento") || key == b"document" || key == b"rg" {
        Some(DataClass::Document)
    } else if has("phone") || has("telefone") || has("celular") || has("whatsapp") {
        Some(DataClass::Phone)
    } else if has("birth") || has("nascimento") || has("aniversario") {
        Some(DataClass::BirthDate)
    } else if has("endereco")
        || has("address")
        || has("logradouro")
        || has("bairro")
        || key == b"cep"
    {
        Some(DataClass::Address)
    } else if (has("nome") || has("name")) && NAME_OWNERS.iter().any(|part| has(part)) {
        Some(DataClass::Name)
    } else {
        None
    }
}

/// The words that make a `nome`/`name` key a person's name (`cliente_nome`, `first_name`).
const NAME_OWNERS: [&str; 16] = [
    "cliente",
    "customer",
    "comprador",
    "buyer",
    "destinatario",
    "recipient",
    "contato",
    "contact",
    "socio",
    "titular",
    "pagador",
    "payer",
    "first",
    "last",
    "full",
    "completo",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules as first written (a `String` and `str::contains`; the same words), the oracle
    /// of the faster `class_of_key`.
    fn reference_class_of_key(key: &str) -> Option<DataClass> {
        let key: String = key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let has = |part: &str| key.contains(part);
        if has("email") {
            Some(DataClass::Email)
        } else if has("cpf") || has("cnpj") || has("documento") || key == "document" || key == "rg"
        {
            Some(DataClass::Document)
        } else if has("phone") || has("telefone") || has("celular") || has("whatsapp") {
            Some(DataClass::Phone)
        } else if has("birth") || has("nascimento") || has("aniversario") {
            Some(DataClass::BirthDate)
        } else if has("endereco")
            || has("address")
            || has("logradouro")
            || has("bairro")
            || key == "cep"
        {
            Some(DataClass::Address)
        } else if (has("nome") || has("name")) && NAME_OWNERS.iter().any(|part| has(part)) {
            Some(DataClass::Name)
        } else {
            None
        }
    }

    proptest::proptest! {
        #[test]
        fn class_of_key_follows_the_rules(
            key in proptest::string::string_regex(
                "([A-Za-z0-9_ .\\-é]|cpf|CNPJ|e-mail|nome|name|cliente|first|cep|rg|document|telefone){0,12}"
            ).unwrap()
        ) {
            proptest::prop_assert_eq!(class_of_key(&key), reference_class_of_key(&key), "{:?}", key);
        }
    }

    #[test]
    fn long_keys_are_classified_whole() {
        let key = format!("{}_customer_nome", "x".repeat(80));
        assert_eq!(class_of_key(&key), Some(DataClass::Name));
        assert_eq!(class_of_key(&key), reference_class_of_key(&key));
        assert_eq!(class_of_key(&"a".repeat(64)), None);
        assert_eq!(
            class_of_key(&format!("{}cpf", "a".repeat(62))),
            Some(DataClass::Document)
        );
    }

    #[test]
    fn key_rules() {
        assert_eq!(class_of_key("Customer_E-mail"), Some(DataClass::Email));
        assert_eq!(class_of_key("cliente_cpf"), Some(DataClass::Document));
        assert_eq!(class_of_key("Telefone"), Some(DataClass::Phone));
        assert_eq!(class_of_key("data_nascimento"), Some(DataClass::BirthDate));
        assert_eq!(class_of_key("cliente_nome"), Some(DataClass::Name));
        assert_eq!(class_of_key("cep"), Some(DataClass::Address));
        // Product and category names are not about a person.
        assert_eq!(class_of_key("nome"), None);
        assert_eq!(class_of_key("name"), None);
        assert_eq!(class_of_key("TopicName"), None);
        assert_eq!(class_of_key("sku"), None);
        assert_eq!(class_of_key("data_alteracao"), None);
    }
}
