//! The lab: robots (workspace deployments), instances (bookings), their pages and the
//! rerobots-compatible workspace API.

pub mod cli;

use rocket::{get, routes, Build, Rocket, Route};

use crate::auth::User;
use crate::web::View;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_instances]
}

/// Adds the lab's background work (ending expired instances) to the server.
pub fn attach(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket
}

#[get("/instances")]
fn get_instances(_user: User) -> View {
    View::new("instances/index.html", ())
}
