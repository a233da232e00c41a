//! SSH public keys: validation ([`parse`]), the `/sshkeys` page, the keys API and `/USER.keys`.

pub mod parse;

use rocket::{get, routes, Route};

use crate::auth::User;
use crate::web::View;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_keys]
}

#[get("/sshkeys")]
fn get_keys(_user: User) -> View {
    View::new("sshkeys/index.html", ())
}
