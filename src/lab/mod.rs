//! The lab: robots (workspace deployments), instances (bookings), their pages and the
//! rerobots-compatible workspace API; who may book which robot in [`groups`] (groups and
//! access rules), and the admin's oversight pages in [`oversight`].

pub mod admin;
pub mod api;
pub mod api_book;
pub mod bookings;
pub mod cli;
pub mod deployments;
pub mod groups;
pub mod instances;
pub mod keypair;
pub mod oversight;
pub mod pages;

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::{Build, Rocket, Route};

use crate::db::Db;
use crate::error::AppError;

/// How often expired instances are ended in the background.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// Routes of this module: the instances pages, the admin robots page, the workspace API, the
/// access-rule API and the groups and oversight pages.
pub fn routes() -> Vec<Route> {
    let mut all = pages::routes();
    all.extend(admin::routes());
    all.extend(api::routes());
    all.extend(api_book::routes());
    all.extend(groups::api::routes());
    all.extend(groups::pages::routes());
    all.extend(oversight::routes());
    all.extend(bookings::api::routes());
    all.extend(bookings::admin::routes());
    all
}

/// Ends expired instances now (in a write transaction) and returns how many.
pub async fn sweep(db: &Db) -> Result<usize, AppError> {
    db.write(|tx| instances::sweep_expired(tx)).await
}

/// Adds the lab's background work to the server: every [`SWEEP_EVERY`], instances whose time
/// is up are marked ended and logged, so nobody needs to look at them for that to happen.
pub fn attach(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket.attach(AdHoc::on_liftoff("instance expiry", |rocket| {
        Box::pin(async move {
            let Some(db) = rocket.state::<Db>().cloned() else {
                tracing::error!("instance expiry: no database");
                return;
            };
            let mut shutdown = rocket.shutdown();
            rocket::tokio::spawn(async move {
                let mut tick = rocket::tokio::time::interval(SWEEP_EVERY);
                loop {
                    rocket::tokio::select! {
                        _ = tick.tick() => match sweep(&db).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!("ended {n} expired instance(s)"),
                            Err(e) => tracing::error!("ending expired instances: {e}"),
                        },
                        _ = &mut shutdown => break,
                    }
                }
            });
        })
    }))
}
