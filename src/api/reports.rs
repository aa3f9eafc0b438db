//! The monthly report (SPEC §8) for staff (their station or one below it) and
//! admins, as JSON, CSV or XLSX.

use actix_web::http::Method;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse};

use super::extract::{Auth, Query, state};
use super::guard::Callers;
use super::{Route, route};
use crate::auth::Principal;
use crate::domain::report::{Format, Month};
use crate::error::{Error, Result};
use crate::store::{directory, reports};
use crate::views::bulletin;

pub fn routes() -> Vec<Route> {
    vec![route(
        Method::GET,
        "/v1/reports/monthly",
        Callers::ADMIN_OR_STAFF,
        monthly,
    )]
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The station whose subtree is reported: the one asked for, which staff may
/// only name within their own subtree (anything else reads as absent); staff
/// who name none get their own.
async fn station_of(req: &HttpRequest, p: &Principal, asked: Option<&String>) -> Result<String> {
    let db = &state(req)?.db;
    match (p, asked) {
        (Principal::Staff { station_code, .. }, asked) => {
            let Some(asked) = asked else {
                return Ok(station_code.clone());
            };
            if directory::subtree(db, station_code).await?.contains(asked) {
                Ok(asked.clone())
            } else {
                Err(Error::NotFound)
            }
        }
        (_, Some(asked)) => Ok(asked.clone()),
        (_, None) => Err(Error::field(
            "station",
            "is required: the station whose subtree is reported",
        )),
    }
}

async fn monthly(req: HttpRequest, Auth(p): Auth) -> Result<HttpResponse> {
    let q = Query::parse(&req, &["station", "month", "format"])?;
    let month = q
        .filter::<Month>("month")?
        .ok_or_else(|| Error::field("month", "is required, like 2026-10"))?;
    let format = q.filter::<Format>("format")?.unwrap_or(Format::Json);
    let station = station_of(&req, &p, q.params.get("station")).await?;
    let db = &state(&req)?.db;
    let report = reports::monthly(db, &station, month)
        .await?
        .ok_or(Error::NotFound)?;
    let attachment = |extension: &str| ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(report.file_name(extension))],
    };
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(bulletin::json(&report)),
        Format::Csv => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header(attachment("csv"))
            .body(bulletin::csv::csv(&report).map_err(Error::internal)?),
        Format::Xlsx => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, XLSX))
            .insert_header(attachment("xlsx"))
            .body(bulletin::xlsx::xlsx(&report).map_err(Error::internal)?),
    })
}
