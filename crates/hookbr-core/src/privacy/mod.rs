//! Personal data in deliveries: where it is, how to recognize it, how to mask it for display.
//!
//! Deliveries carry personal data of Brazilian consumers, protected by the LGPD
//! (Lei 13.709/2018). This module knows three things:
//!
//! * **the map** ([`personal_fields`]): per provider, the documented fields that carry personal
//!   data (BonifiQ's `Customer.Email`, `Name`, `Phone`, `Document`, `BirthdayDate`; Grafeno's
//!   `data.pendencies[].text`), each with the document it comes from;
//! * **detectors** for values found anywhere ([`is_cpf`], [`is_cnpj`] with their check digits,
//!   [`is_email`], [`is_br_phone`]), for bodies whose shape is not documented (custom BonifiQ
//!   templates, iSET, unknown kinds), plus rules on key names (`email`, `cpf`, `telefone`,
//!   `cliente_nome`, ...);
//! * **masking** that keeps the shape a person needs to recognize a value without revealing it:
//!   [`mask_as`] for one value of a known [`DataClass`], [`mask_text`] for free text,
//!   [`mask_body`] for a whole JSON, form or text body;
//! * **subjects** ([`subjects`], [`Subject`]): the CPFs, CNPJs and e-mail addresses a body
//!   names a person by, normalised, which the inbox indexes as salted hashes so that one
//!   person's deliveries can be erased on request without reading every body.
//!
//! docs/PRIVACY.md has the map with its sources and examples of every mask. Masking is for
//! display (inspector, CLI, logs, exported fixtures); what is forwarded to the application is
//! unchanged.
//!
//! ```
//! use hookbr_core::{Provider, privacy::mask_body};
//!
//! let body = br#"{"cliente":{"email":"joao@example.com","cpf":"529.982.247-25"},"pedido":1234}"#;
//! let masked = mask_body(Provider::Bonifiq, "custom", body);
//! assert_eq!(
//!     masked,
//!     br#"{"cliente":{"email":"j***@e***.com","cpf":"***.982.247-**"},"pedido":1234}"#
//! );
//! ```

mod detect;
mod map;
mod mask;
mod subject;

pub use detect::{is_br_phone, is_cnpj, is_cpf, is_email};
pub use map::{DataClass, PersonalField, personal_fields};
pub use mask::{MAX_MASK_DEPTH, MAX_MASKED_BODY, mask_as, mask_body, mask_fields, mask_text};
pub use subject::{InvalidSubject, Subject, SubjectKind, subjects};
