//! HTTP: extract, authorise, call the store, answer. One file per resource.

mod admin;
mod auth;
mod client_ip;
mod complaints;
mod deliveries;
mod extensions;
mod extract;
mod followups;
pub mod guard;
mod inbox;
mod input;
mod ops;
mod partners;
mod queue;
pub mod ratelimit;
mod reports;

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, Resource, Responder, web};

use guard::Callers;

use crate::error::Error;

/// Enrolment bodies read and answered as the admin API does it, for the
/// command line's bootstrap (which calls the same store use cases).
pub use admin::{enrolled_handler, read_handler, read_station};
pub use partners::{enrolled_partner, read_partner};

/// One route of the API: the method and path openapi.yaml must describe, who
/// may call it, and how to mount it. The server mounts exactly this list.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub callers: Callers,
    mount: Box<dyn Fn(Resource) -> Resource + Send + Sync>,
}

fn route<F, Args>(method: Method, path: &'static str, callers: Callers, handler: F) -> Route
where
    F: Handler<Args> + Clone + Send + Sync + 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let m = method.clone();
    let mount = move |resource: Resource| {
        let admitted = web::method(m.clone()).to(handler.clone()).wrap(from_fn(
            move |req, next: Next<BoxBody>| guard::admit(callers, req, next),
        ));
        resource.route(admitted)
    };
    Route {
        method,
        path,
        callers,
        mount: Box::new(mount),
    }
}

/// Every route the gateway serves.
pub fn routes() -> Vec<Route> {
    let mut all = Vec::new();
    all.extend(ops::routes());
    all.extend(auth::routes());
    all.extend(admin::routes());
    all.extend(partners::routes());
    all.extend(complaints::routes());
    all.extend(inbox::routes());
    all.extend(queue::routes());
    all.extend(deliveries::routes());
    all.extend(extensions::routes());
    all.extend(reports::routes());
    all.extend(followups::routes());
    all
}

/// Mounts [`routes`], one resource per path so methods share it (405 for the rest).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: BTreeMap<&'static str, Vec<Route>> = BTreeMap::new();
    for r in routes() {
        by_path.entry(r.path).or_default().push(r);
    }
    for (path, routes) in by_path {
        let mut resource = web::resource(path);
        for r in &routes {
            resource = (r.mount)(resource);
        }
        cfg.service(resource);
    }
    cfg.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(Error::NotFound)
    }));
}
