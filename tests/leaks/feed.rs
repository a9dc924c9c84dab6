//! WatchItems: a feed open while B writes, a feed resumed from before, snapshots.

use pake_testkit::feed::{head_cursor, is_change, next_event, read_snapshot, read_through};

use super::*;

const HEARTBEAT: Duration = Duration::from_millis(200);

async fn watch(w: &World, token: &Option<String>, after: &str, snapshot: bool) -> Watch {
    let channel = w.channel.clone();
    pake_testkit::feed::watch(channel, token, after, snapshot, HEARTBEAT).await
}

type Watch = Result<Streaming<ItemEvent>, Status>;

/// The items of a snapshot.
async fn snapshot(w: &World, token: &Option<String>) -> Answer {
    let mut stream = watch(w, token, "", true).await?;
    let items = read_snapshot(&mut stream, PATIENCE).await;
    items
        .map(|items| items.join("\n"))
        .map_err(Status::internal)
}

/// Reads `stream` up to the current head: every change event in it must be of A's own items
/// and hold none of B's secrets.
async fn only_own_events(
    w: &World,
    r: &mut Report,
    label: &str,
    stream: &mut Streaming<ItemEvent>,
) {
    let head = match head_cursor(w.channel.clone(), &w.a_token()).await {
        Ok(head) => head,
        Err(error) => return r.finding(format!("{label}: {error}")),
    };
    let events = match read_through(stream, &head, PATIENCE).await {
        Ok(events) => events,
        Err(error) => return r.finding(format!("{label}: {error}")),
    };
    let b_items = w.item_pairs();
    for event in events.iter().filter(|event| is_change(event)) {
        let text = format!("{event:?}");
        r.scan(label, &text);
        let item = event.item.clone().unwrap_or_default();
        let of_b = b_items
            .iter()
            .any(|(id, _)| item.name.ends_with(id.as_str()));
        if of_b || item.owner != w.a.name {
            r.finding(format!(
                "{label}: A received an event of an item not its own: {text}"
            ));
        }
    }
}

pub async fn watch_items(w: &World, phase: Phase, r: &mut Report) {
    match phase {
        Phase::Before => {
            let mut stream = watch(w, &w.a_token(), "", false).await.expect("A watches");
            let first = next_event(&mut stream, PATIENCE).await;
            let start = first.expect("first event").expect("heartbeat").cursor;
            *w.feed.lock().await = Some((stream, start));
        }
        Phase::After => {
            let opened = w.feed.lock().await.take();
            if let Some((mut stream, start)) = opened {
                only_own_events(w, r, "A's feed open while B wrote", &mut stream).await;
                *w.feed.lock().await = Some((stream, start));
            }
        }
        Phase::Targeted => {
            // Resumed from before B wrote, through A's own writes of the targeted probes.
            let start = w.feed.lock().await.as_ref().map(|(_, start)| start.clone());
            let Some(start) = start else {
                return r.finding("A's feed was not opened");
            };
            match watch(w, &w.a_token(), &start, false).await {
                Ok(mut stream) => only_own_events(w, r, "A's feed resumed", &mut stream).await,
                Err(status) => r.finding(format!("resuming A's feed: {status:?}")),
            }
            return;
        }
    }
    for (who, token) in w.callers() {
        let label = format!("WatchItems snapshot as {who}");
        r.observe(label, &snapshot(w, &token).await);
    }
}
