//! The follow-up draw (SPEC §8): when the business clock has passed into a
//! new month, the month before is sampled for follow-up visits. It runs with
//! every deadline pass (so at start, after downtime, and at once when an
//! admin moves the manual clock); the drawn-through mark makes it happen once
//! per month whichever process gets there first.

use sea_orm::DatabaseConnection;

use crate::clock::Now;
use crate::error::Result;
use crate::store::followups;

/// Draws every month now due; answers how many follow-ups were made.
pub async fn draw_due(db: &DatabaseConnection, now: Now<'_>, share: f64) -> Result<usize> {
    let drawn = followups::draw_due(db, now.at, share).await?;
    for (month, made) in &drawn {
        tracing::info!(month = %month, followups = made, "follow-up sample drawn");
    }
    Ok(drawn.iter().map(|(_, made)| made).sum())
}
