use actix_web::http::header::HeaderMap;
use hookbr_core::HeaderSource;

/// A [`HeaderSource`] over actix-web's [`HeaderMap`] (actix-web 4 is on `http` 0.2).
#[derive(Debug, Clone, Copy)]
pub struct ActixHeaders<'a>(pub &'a HeaderMap);

impl HeaderSource for ActixHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(|value| value.as_bytes())
    }
}
