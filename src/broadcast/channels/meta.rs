//! Structured facts about a post beside its text: what the generic webhook sends as `data` and
//! what e-mail takes its subject from. Computed by `plan::candidates`, passed in `Outgoing::meta`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Structured facts about a post, beside its text. Serialized as the `data` of a webhook.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PostMeta {
    /// `update`, `announce`, `reminder`, `start`, `end`, `still_working` or `recurring`.
    pub kind: String,
    /// When the post became due (the update's time, the reminder's time, the cron occurrence).
    pub due: DateTime<Utc>,
    /// `Störung`, `Update`, `Resolved`, … as in the text (empty for recurring posts).
    pub label: String,
    pub site_title: String,
    /// The incident or maintenance; `None` for recurring posts.
    pub incident: Option<IncidentMeta>,
}

/// The incident or maintenance a post belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IncidentMeta {
    pub id: String,
    pub title: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    pub maintenance: bool,
    pub permalink: String,
    pub components: Vec<ComponentMeta>,
    /// The status this post reports (`investigating` … `resolved`, `scheduled`, `in_progress`,
    /// `completed`).
    pub status: String,
    /// The update this post is about, if it is one (not for reminders, start and end posts).
    pub update: Option<UpdateMeta>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentMeta {
    pub id: String,
    pub name: String,
}

/// One `## <date> <time> <status>` section of an incident file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpdateMeta {
    /// Position among the incident's updates, from 0.
    pub index: usize,
    pub status: String,
    pub at: DateTime<Utc>,
}
