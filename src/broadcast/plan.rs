//! What could be posted (candidates, with their final texts) and what to do with each now, given
//! the ledger (decisions). Pure: no I/O, no network; `plan`, `broadcast --dry-run` and the real run
//! share it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::broadcast::channels::{ComponentMeta, IncidentMeta, PostMeta, UpdateMeta};
use crate::broadcast::compose::{self, DEFAULT_TEMPLATE, RECURRING_TEMPLATE, TextContext, Words};
use crate::broadcast::config::ChannelEntry;
use crate::broadcast::ledger::{Ledger, State};
use crate::broadcast::schedule::{CronSchedule, ServiceHours};
use crate::broadcast::text::Fitted;
use crate::config::Config;
use crate::model::time::Clock;
use crate::model::{Incident, Recency, Status};

/// Mastodon keeps an `Idempotency-Key` for one hour: an in-doubt post is re-sent only within it.
pub const MASTODON_KEY_LIFETIME: TimeDelta = TimeDelta::hours(1);
/// Synapse keeps a transaction id's event for 24 hours: an in-doubt Matrix post is re-sent with
/// the same transaction id only within them. Webhooks carry a stable `webhook-id` that receivers
/// deduplicate, Bluesky rewrites one record key: both are always re-sent; X and e-mail never.
pub const MATRIX_TXN_LIFETIME: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Update,
    Announce,
    Reminder,
    Start,
    End,
    StillWorking,
    Recurring,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Update => "update",
            Kind::Announce => "announce",
            Kind::Reminder => "reminder",
            Kind::Start => "start",
            Kind::End => "end",
            Kind::StillWorking => "still_working",
            Kind::Recurring => "recurring",
        }
    }
}

/// One post on one channel.
#[derive(Debug, Clone)]
pub struct Post {
    /// Stable key: `<incident>#<n>/<channel>`, `<incident>#announce/<channel>`, …,
    /// `recurring/<name>@<occurrence>/<channel>`.
    pub key: String,
    pub channel: String,
    /// Posts of one incident form a thread per channel; recurring posts stand alone.
    pub thread: Option<String>,
    /// The thread's title (the incident title), for channels that name threads (Discord forums).
    pub thread_title: Option<String>,
    /// Order within the thread.
    pub seq: u32,
    pub due: DateTime<Utc>,
    pub kind: Kind,
    /// Waits for service hours.
    pub deferrable: bool,
    /// Skipped instead of sent at or after this instant (a reminder after the maintenance began).
    pub not_after: Option<DateTime<Utc>>,
    pub text: Result<Fitted, String>,
    pub language: &'static str,
    /// Incident, update, components and permalink, for channels that send structured data.
    pub meta: PostMeta,
}

/// What to do with a post now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send it now (`in_doubt`: an earlier attempt may have reached the service).
    Send { in_doubt: bool },
    /// Record this state without sending (skipped, expired).
    Record { state: State, note: String },
    /// Not now: the reason says until when or for what.
    Wait(String),
    /// Due later (within the horizon).
    Later,
    /// A person must decide (failed, in doubt).
    Blocked(String),
    /// Done before (sent, skipped, expired).
    Done(State),
}

#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub post: &'a Post,
    pub action: Action,
    /// When it goes out (service hours may push the due time).
    pub when: DateTime<Utc>,
}

fn td(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// The text of a post that is done (sent, skipped, expired): never composed, never shown.
const DONE: &str = "done";

/// Render one post's text for one channel.
fn text_for(entry: &ChannelEntry, ctx: &TextContext, recurring: bool) -> Result<Fitted, String> {
    let template = match (&entry.template, recurring) {
        (_, true) => RECURRING_TEMPLATE,
        (Some(t), false) => t.as_str(),
        (None, false) => DEFAULT_TEMPLATE,
    };
    compose::render(template, ctx, compose::counting(entry))
}

struct Base<'a> {
    incident: &'a Incident,
    link: String,
    components: String,
    initials: String,
    author: String,
    component_meta: Vec<ComponentMeta>,
}

/// Does the incident have anything to post around `now`: an event since `now - lookback`, or is
/// it still open? Old history costs nothing per run.
#[must_use]
pub fn in_window(recency: Recency, now: DateTime<Utc>, lookback: TimeDelta) -> bool {
    recency.touches(now - lookback, true)
}

/// How far back a run at `now` looks for posts that are still due ([`in_window`]).
#[must_use]
pub fn lookback(config: &Config) -> TimeDelta {
    td(config.broadcast.max_age) + td(config.broadcast.give_up_after)
}

/// Which ledger keys a run at `now` can need: those of the incidents [`candidates`] looks at, and
/// recurring posts. For [`crate::broadcast::ledger::Ledger::open_filtered`].
pub fn ledger_keys<'a>(
    config: &Config,
    incidents: &'a [Incident],
    now: DateTime<Utc>,
) -> impl Fn(&str) -> bool + 'a {
    let lookback = lookback(config);
    let ids: std::collections::HashSet<&'a str> = incidents
        .iter()
        .filter(|i| in_window(i.recency(), now, lookback))
        .map(|i| i.id.as_str())
        .collect();
    move |key: &str| {
        key.starts_with("recurring/") || key.split('#').next().is_some_and(|id| ids.contains(id))
    }
}

/// Every post that may be due between `now - lookback` and `now + horizon`, for every channel.
#[must_use]
pub fn candidates(
    config: &Config,
    incidents: &[Incident],
    now: DateTime<Utc>,
    horizon: Duration,
) -> Vec<Post> {
    candidates_skipping(config, incidents, now, horizon, &|_| false)
}

/// Like [`candidates`], but a post for which `done(key)` holds (final in the ledger) gets no text:
/// composing and counting texts is most of the work of a cron tick, and a done post shows none.
#[must_use]
pub fn candidates_skipping(
    config: &Config,
    incidents: &[Incident],
    now: DateTime<Utc>,
    horizon: Duration,
    done: &dyn Fn(&str) -> bool,
) -> Vec<Post> {
    let b = &config.broadcast;
    if b.channels.is_empty() {
        return Vec::new();
    }
    let lookback = lookback(config);
    let until = now + td(horizon);
    let words = Words {
        lang: config.site.language,
    };
    let clock = Clock {
        lang: config.site.language,
        tz: config.tz,
    };
    let lang = config.site.language.code();
    let mut out = Vec::new();

    for incident in incidents.iter().filter(|i| i.broadcast) {
        // Only incidents with something in the window: old history costs nothing per run.
        if !in_window(incident.recency(), now, lookback) {
            continue;
        }
        let author = incident.author.as_deref().and_then(|a| config.member(a));
        let base = Base {
            incident,
            link: format!("{}/incidents/{}/", config.site.base_url, incident.id),
            components: incident
                .components
                .iter()
                .filter_map(|c| config.component(c))
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            initials: author.map(|m| m.initials.clone()).unwrap_or_default(),
            author: author.map(|m| m.name.clone()).unwrap_or_default(),
            component_meta: incident
                .components
                .iter()
                .filter_map(|c| config.component(c))
                .map(|c| ComponentMeta {
                    id: c.id.clone(),
                    name: c.name.clone(),
                })
                .collect(),
        };
        for entry in b.channels.iter().filter(|e| {
            incident
                .channels
                .as_ref()
                .is_none_or(|list| list.contains(&e.id))
                && incident.impact >= e.min_impact
        }) {
            let mut posts = incident_posts(config, &base, entry, &words, clock, (now, until), done);
            for p in &mut posts {
                p.language = lang;
            }
            out.extend(posts);
        }
    }

    for (i, r) in b.recurring.iter().enumerate() {
        let Ok(schedule) = CronSchedule::parse(&r.cron) else {
            continue;
        };
        let name = r.name.clone().unwrap_or_else(|| i.to_string());
        let mut occurrences: Vec<DateTime<Utc>> = schedule
            .latest_in(now - td(b.max_age), now, config.tz)
            .into_iter()
            .collect();
        occurrences.extend(schedule.between(now, until, config.tz).into_iter().take(50));
        for occ in occurrences {
            for entry in b
                .channels
                .iter()
                .filter(|e| r.channels.as_ref().is_none_or(|l| l.contains(&e.id)))
            {
                let ctx = TextContext {
                    label: String::new(),
                    title: String::new(),
                    text: r.text.trim().to_string(),
                    link: String::new(),
                    components: String::new(),
                    status: String::new(),
                    initials: String::new(),
                    author: String::new(),
                    site_title: config.site.title.clone(),
                    kind: Kind::Recurring.as_str().into(),
                };
                let key = format!(
                    "recurring/{name}@{}/{}",
                    occ.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    entry.id
                );
                let text = if done(&key) {
                    Err(DONE.to_string())
                } else {
                    text_for(entry, &ctx, true)
                };
                out.push(Post {
                    key,
                    channel: entry.id.clone(),
                    thread: None,
                    thread_title: None,
                    seq: 0,
                    due: occ,
                    kind: Kind::Recurring,
                    deferrable: true,
                    not_after: None,
                    text,
                    language: lang,
                    meta: PostMeta {
                        kind: Kind::Recurring.as_str().into(),
                        due: occ,
                        label: String::new(),
                        site_title: config.site.title.clone(),
                        incident: None,
                    },
                });
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn incident_posts(
    config: &Config,
    base: &Base,
    entry: &ChannelEntry,
    words: &Words,
    clock: Clock,
    (now, until): (DateTime<Utc>, DateTime<Utc>),
    done: &dyn Fn(&str) -> bool,
) -> Vec<Post> {
    let b = &config.broadcast;
    let incident = base.incident;
    let mut posts: Vec<Post> = Vec::new();
    let ctx = |label: &str, status: &str, kind: Kind, text: String| TextContext {
        label: label.to_string(),
        title: incident.title.clone(),
        text,
        link: base.link.clone(),
        components: base.components.clone(),
        status: status.to_string(),
        initials: base.initials.clone(),
        author: base.author.clone(),
        site_title: config.site.title.clone(),
        kind: kind.as_str().to_string(),
    };
    let mut push = |suffix: String,
                    due: DateTime<Utc>,
                    kind: Kind,
                    deferrable: bool,
                    not_after,
                    c: TextContext,
                    update: Option<UpdateMeta>| {
        if due > until {
            return;
        }
        let meta = PostMeta {
            kind: c.kind.clone(),
            due,
            label: c.label.clone(),
            site_title: c.site_title.clone(),
            incident: Some(IncidentMeta {
                id: incident.id.clone(),
                title: incident.title.clone(),
                impact: incident.impact.as_str().to_owned(),
                maintenance: incident.is_maintenance(),
                permalink: base.link.clone(),
                components: base.component_meta.clone(),
                status: update
                    .as_ref()
                    .map_or_else(|| c.status.clone(), |u| u.status.clone()),
                update,
            }),
        };
        let key = format!("{}#{suffix}/{}", incident.id, entry.id);
        let text = if done(&key) {
            Err(DONE.to_string())
        } else {
            text_for(entry, &c, false)
        };
        posts.push(Post {
            key,
            channel: entry.id.clone(),
            thread: Some(incident.id.clone()),
            thread_title: Some(incident.title.clone()),
            seq: 0,
            due,
            kind,
            deferrable,
            not_after,
            text,
            language: "",
            meta,
        });
    };

    match incident.scheduled {
        None => {
            for (i, u) in incident.updates.iter().enumerate() {
                let label = words.update_label(u.status, incident.impact, i == 0);
                let c = ctx(
                    label,
                    u.status.as_str(),
                    Kind::Update,
                    compose::first_paragraph(&u.body),
                );
                push(
                    i.to_string(),
                    u.at,
                    Kind::Update,
                    b.updates_wait_for_service_hours,
                    None,
                    c,
                    Some(update_meta(i, u)),
                );
            }
            if let (Some(after), true) = (b.still_working_after, incident.is_active(now)) {
                let published = incident.published(now);
                if let Some(last) = published.last() {
                    let idx = published.len() - 1;
                    let c = ctx(
                        words.label("still_working"),
                        "update",
                        Kind::StillWorking,
                        words.still_working().into(),
                    );
                    push(
                        format!("still-{idx}"),
                        last.at + td(after),
                        Kind::StillWorking,
                        false,
                        None,
                        c,
                        Some(update_meta(idx, last)),
                    );
                }
            }
        }
        Some(w) if !incident.cancelled => {
            let window = format!("{} – {}", clock.date_time(w.start), clock.time(w.end));
            let announce_text = incident
                .updates
                .iter()
                .find(|u| u.status == Status::Scheduled)
                .map(|u| compose::first_paragraph(&u.body))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| words.announce(&window, &base.components));
            // Announced when a run first sees it: due now, never after the window began.
            let c = ctx(
                words.label("announce"),
                "scheduled",
                Kind::Announce,
                announce_text,
            );
            // A `scheduled` update dated in the future publishes the announcement then.
            let announce_due = incident
                .updates
                .iter()
                .find(|u| u.status == Status::Scheduled)
                .map_or(now, |u| u.at.max(now));
            push(
                "announce".into(),
                announce_due,
                Kind::Announce,
                true,
                Some(w.start),
                c,
                None,
            );
            for offset in b.reminder_offsets() {
                let hours = clock.duration(td(offset));
                let c = ctx(
                    words.label("reminder"),
                    "scheduled",
                    Kind::Reminder,
                    words.reminder(&hours, &window),
                );
                let label = short_duration(offset);
                push(
                    format!("remind-{label}"),
                    w.start - td(offset),
                    Kind::Reminder,
                    true,
                    Some(w.start),
                    c,
                    None,
                );
            }
            for (i, u) in incident
                .updates
                .iter()
                .enumerate()
                .filter(|(_, u)| u.status != Status::Scheduled)
            {
                let label = words.update_label(u.status, incident.impact, false);
                let c = ctx(
                    label,
                    u.status.as_str(),
                    Kind::Update,
                    compose::first_paragraph(&u.body),
                );
                push(
                    i.to_string(),
                    u.at,
                    Kind::Update,
                    false,
                    None,
                    c,
                    Some(update_meta(i, u)),
                );
            }
            if !incident
                .updates
                .iter()
                .any(|u| u.status == Status::InProgress)
            {
                let c = ctx(
                    words.label("start"),
                    "in_progress",
                    Kind::Start,
                    words.start(&clock.time(w.end)),
                );
                push(
                    "start".into(),
                    w.start,
                    Kind::Start,
                    false,
                    Some(w.end),
                    c,
                    None,
                );
            }
            if !incident
                .updates
                .iter()
                .any(|u| u.status == Status::Completed)
            {
                let c = ctx(
                    words.label("end"),
                    "completed",
                    Kind::End,
                    words.end().into(),
                );
                push("end".into(), w.end, Kind::End, false, None, c, None);
            }
        }
        Some(_) => {}
    }
    // Thread order: the announcement first, then by time.
    posts.sort_by_key(|p| (p.kind != Kind::Announce, p.due));
    for (i, p) in posts.iter_mut().enumerate() {
        p.seq = i as u32;
    }
    posts
}

fn update_meta(index: usize, u: &crate::model::Update) -> UpdateMeta {
    UpdateMeta {
        index,
        status: u.status.as_str().to_owned(),
        at: u.at,
    }
}

/// Decide what to do with every candidate now.
#[must_use]
pub fn decide<'a>(
    config: &Config,
    posts: &'a [Post],
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> Vec<Decision<'a>> {
    let b = &config.broadcast;
    let hours = b
        .service_hours
        .as_deref()
        .and_then(|h| ServiceHours::parse(h).ok());
    let kind_of = |channel: &str| b.channel(channel).map_or("", ChannelEntry::kind);

    let mut decisions: Vec<Decision<'a>> = posts
        .iter()
        .map(|post| {
            let when = match (&hours, post.deferrable) {
                (Some(h), true) => h.next_open(post.due, config.tz),
                _ => post.due,
            };
            let action = single(config, post, ledger, now, when, kind_of(&post.channel));
            Decision { post, action, when }
        })
        .collect();

    // Of several reminders of one maintenance due at once on a channel, only the latest is sent;
    // a reminder whose time lies before the announcement went out is not sent at all.
    let mut latest: BTreeMap<(&str, &str), DateTime<Utc>> = BTreeMap::new();
    for d in &decisions {
        if d.post.kind == Kind::Reminder && matches!(d.action, Action::Send { in_doubt: false }) {
            let k = (
                d.post.thread.as_deref().unwrap_or(""),
                d.post.channel.as_str(),
            );
            let e = latest.entry(k).or_insert(d.post.due);
            *e = (*e).max(d.post.due);
        }
    }
    for d in &mut decisions {
        if d.post.kind != Kind::Reminder || !matches!(d.action, Action::Send { in_doubt: false }) {
            continue;
        }
        let thread = d.post.thread.as_deref().unwrap_or("");
        let announce_key = format!("{thread}#announce/{}", d.post.channel);
        let announced = ledger
            .get(&announce_key)
            .filter(|s| s.state == State::Sent)
            .map(|s| s.at);
        let superseded = latest
            .get(&(thread, d.post.channel.as_str()))
            .is_some_and(|t| *t > d.post.due);
        let note = if superseded {
            Some("superseded by a later reminder due at the same time")
        } else if announced.is_some_and(|t| t > d.post.due) {
            Some("the announcement went out after this reminder's time")
        } else {
            None
        };
        if let Some(note) = note {
            d.action = Action::Record {
                state: State::Skipped,
                note: note.into(),
            };
        }
    }

    // Posts of one thread keep their order per channel: while an earlier one is not settled,
    // later ones wait.
    let mut order: Vec<usize> = (0..decisions.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (decisions[a].post, decisions[b].post);
        (&pa.thread, &pa.channel, pa.seq).cmp(&(&pb.thread, &pb.channel, pb.seq))
    });
    let mut blocker: Option<(Option<String>, String, String)> = None;
    for idx in order {
        let post = decisions[idx].post;
        if post.thread.is_none() {
            continue;
        }
        if let Some((t, c, key)) = &blocker
            && *t == post.thread
            && *c == post.channel
        {
            if matches!(decisions[idx].action, Action::Send { .. }) {
                decisions[idx].action = Action::Wait(format!("waits for the earlier post {key}"));
            }
            continue;
        }
        blocker = None;
        if matches!(decisions[idx].action, Action::Blocked(_) | Action::Wait(_)) {
            blocker = Some((post.thread.clone(), post.channel.clone(), post.key.clone()));
        }
    }
    decisions
}

fn single(
    config: &Config,
    post: &Post,
    ledger: &Ledger,
    now: DateTime<Utc>,
    when: DateTime<Utc>,
    kind: &str,
) -> Action {
    let b = &config.broadcast;
    let state = ledger.get(&post.key);
    let expired = |since: DateTime<Utc>| now - since > td(b.give_up_after);
    match state.map(|s| s.state) {
        Some(s @ (State::Sent | State::Skipped | State::Expired)) => Action::Done(s),
        Some(State::Failed) => Action::Blocked(format!(
            "failed: {}; fix the cause, then `statuscast ledger resolve {} retry`",
            state.and_then(|s| s.note.clone()).unwrap_or_default(),
            post.key
        )),
        Some(State::InDoubt) => in_doubt_blocked(post),
        Some(State::Sending) => {
            let last = state.and_then(|s| s.last_attempt).unwrap_or(now);
            match kind {
                "bluesky" | "webhook" => Action::Send { in_doubt: true },
                "mastodon" if now - last < MASTODON_KEY_LIFETIME => Action::Send { in_doubt: true },
                "matrix" if now - last < MATRIX_TXN_LIFETIME => Action::Send { in_doubt: true },
                _ => in_doubt_blocked(post),
            }
        }
        Some(State::Retry) => {
            if expired(post.due) {
                Action::Record {
                    state: State::Expired,
                    note: format!(
                        "still failing {} after it was due; given up",
                        short_duration(b.give_up_after)
                    ),
                }
            } else {
                Action::Send { in_doubt: false }
            }
        }
        Some(State::Requeued) => Action::Send { in_doubt: false },
        None => {
            if post.text.is_err() {
                return Action::Blocked(format!(
                    "cannot compose the text: {}",
                    post.text.as_ref().err().cloned().unwrap_or_default()
                ));
            }
            if when > now {
                if post.due <= now && post.not_after.is_some_and(|limit| when >= limit) {
                    return Action::Record {
                        state: State::Skipped,
                        note: "service hours would hold it until after the maintenance has started"
                            .into(),
                    };
                }
                return if post.due <= now {
                    Action::Wait(format!(
                        "service hours: goes out at {}",
                        when.with_timezone(&config.tz).format("%Y-%m-%d %H:%M %Z")
                    ))
                } else {
                    Action::Later
                };
            }
            if let Some(limit) = post.not_after
                && now >= limit
            {
                return Action::Record {
                    state: State::Skipped,
                    note: "would go out after the maintenance it announces has started".into(),
                };
            }
            if now - when > td(b.max_age) {
                return Action::Record {
                    state: State::Skipped,
                    note: format!(
                        "older than max_age ({}) when first seen",
                        short_duration(b.max_age)
                    ),
                };
            }
            Action::Send { in_doubt: false }
        }
    }
}

/// `24h`, `90m`, `45s`: the compact form used in post keys and messages.
#[must_use]
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn in_doubt_blocked(post: &Post) -> Action {
    Action::Blocked(format!(
        "in doubt: a run stopped while sending; look at the channel, then `statuscast ledger resolve {} sent` (it is there) or `… retry` (send again)",
        post.key
    ))
}
