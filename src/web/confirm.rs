//! Confirmation pages for the no-JavaScript path: "Delete", "revoke" and "Terminate" are
//! forms that htmx posts after its own `hx-confirm`; without JavaScript the same forms are a
//! GET to these pages, which name what will happen and hold the real POST form. A GET here
//! never changes anything, so link prefetchers are harmless.

use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::auth::User;
use crate::db::Db;
use crate::error::AppError;
use crate::lab::instances;
use crate::web::{Reply, SeeOther, View};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    routes![get_delete_key, get_revoke_token, get_terminate_instance]
}

/// What `confirm.html` shows.
#[derive(Serialize)]
struct Ask {
    title: &'static str,
    question: String,
    effect: &'static str,
    /// Where the button posts.
    action: String,
    /// The button's words.
    verb: &'static str,
    /// Where "Cancel" goes.
    back: &'static str,
}

fn ask(ask: Ask) -> View {
    View::new("confirm.html", ask)
}

#[get("/sshkeys/<id>/delete")]
async fn get_delete_key(user: User, id: i64, db: &State<Db>) -> Result<View, AppError> {
    let key = db
        .run(move |conn| crate::keys::get_for(conn, &user, id))
        .await?;
    Ok(ask(Ask {
        title: "Delete an SSH key",
        question: format!("Delete the SSH key {}?", key.name),
        effect: "It stops working at once, on running instances too. This cannot be undone.",
        action: format!("/sshkeys/{id}/delete"),
        verb: "Delete",
        back: "/sshkeys",
    }))
}

#[get("/tokens/<id>/revoke")]
async fn get_revoke_token(user: User, id: &str, db: &State<Db>) -> Result<View, AppError> {
    let id = id.to_owned();
    let info = db
        .run(move |conn| crate::tokens::get_active(conn, &user, &id))
        .await?;
    Ok(ask(Ask {
        title: "Revoke an API token",
        question: format!("Revoke the token {}?", crate::tokens::describe(&info)),
        effect: "Anything using it stops working at once. This cannot be undone.",
        action: format!("/tokens/{}/revoke", info.id),
        verb: "revoke",
        back: "/tokens",
    }))
}

#[get("/instances/<id>/terminate")]
async fn get_terminate_instance(user: User, id: &str, db: &State<Db>) -> Result<Reply, AppError> {
    let id = id.to_owned();
    let instance = db
        .run(move |conn| instances::get_for(conn, &user, &id))
        .await?;
    let kind = &instance.deployment.kind;
    let action = format!("/instances/{}/terminate", instance.id);
    let asked = if instance.upcoming {
        Ask {
            title: "Cancel a booking",
            question: format!("Cancel your booking of {kind}?"),
            effect: "The robot is free for others in that time.",
            action,
            verb: "Cancel booking",
            back: "/instances",
        }
    } else if instance.active {
        Ask {
            title: "Terminate an instance",
            question: format!("Terminate your instance on {kind}?"),
            effect: "Its keys stop logging in at once, and a private key not yet downloaded is discarded.",
            action,
            verb: "Terminate",
            back: "/instances",
        }
    } else {
        return Ok(SeeOther::with_flash("/instances", "That instance had already ended.").into());
    };
    Ok(ask(asked).into())
}
