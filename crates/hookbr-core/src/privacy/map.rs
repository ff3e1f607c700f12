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
    let key: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let has = |part: &str| key.contains(part);
    if has("email") {
        Some(DataClass::Email)
    } else if has("cpf") || has("cnpj") || has("documento") || key == "document" || key == "rg" {
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
    } else if (has("nome") || has("name"))
        && [
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
        ]
        .iter()
        .any(|part| has(part))
    {
        Some(DataClass::Name)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
