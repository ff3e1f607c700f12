//! Group commit for [`PostgresInbox::insert`](crate::PostgresInbox): the inserts that arrive
//! while the committers are busy are written by one statement, in one transaction, with one
//! commit (one WAL flush) for all of them.
//!
//! Each insert hands its row to a bounded queue and waits for its answer. A few committer
//! tasks take turns at the queue: each takes every row waiting (up to [`MAX_BATCH`]) and
//! writes them with [`INSERT_MANY`], one round trip (several when their bodies exceed
//! [`MAX_BATCH_BYTES`]). An idle inbox writes a lone row with the
//! single-row statement as soon as it arrives, so batching costs no latency; under load the
//! batches grow by themselves, to as many rows as arrived during the previous commit.
//!
//! * **Nothing is answered before the commit**, as with one statement per row.
//! * **A failing row costs only its own request**: if the batch statement fails, each of its
//!   rows is written again with a statement of its own, and only the rows that fail then are
//!   refused (`503`, the provider retries).
//! * **Copies in one batch**: a key given twice is written once; the later copies are answered
//!   as duplicates after the commit, as they would be one after the other.
//! * **No deadlock between batches** (of this process or of other instances): each batch
//!   inserts its rows in key order, so two batches that share keys wait on each other in the
//!   same order. The rows' ids follow that order too, not their arrival (which was
//!   concurrent).
//! * The rows are written by the committer tasks, not by the request: a request that goes away
//!   (its client disconnected) neither cancels nor delays the others' commit.

use std::{collections::HashMap, sync::Arc, time::Duration};

use deadpool_postgres::{Object, Pool};
use hookbr_core::{StoreError, inbox::Inserted};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::postgres::{failed, pool_error};

/// Rows written by one batch statement at most.
const MAX_BATCH: usize = 256;

/// Body bytes written by one batch statement at most (a batch of large bodies is written by
/// several statements): well under PostgreSQL's 1 GiB message limit whatever the body limit.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// Rows waiting for a committer at most; an insert past it waits for room (back pressure on
/// the requests). Rows whose request went away (its client disconnected, the answer is no
/// longer awaited) are dropped when a committer takes them, unwritten: nothing was
/// acknowledged for them, and the provider sends them again.
const QUEUE_CAPACITY: usize = 1_024;

/// How long an insert waits for room in the queue and for its commit, at most: then it is
/// refused (`503`, the provider retries; a row committed after that is answered as a
/// duplicate on the retry). Under the providers' own timeouts (10 s).
const INSERT_TIMEOUT: Duration = Duration::from_secs(8);

/// A row as the insert statements bind it: the record's columns (body sealed when the inbox
/// is encrypted), its subject index entries, and its entity and position.
#[derive(Debug)]
pub(crate) struct RowToInsert {
    pub(crate) endpoint: String,
    pub(crate) delivery_id: String,
    pub(crate) dedup_key: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: String,
    pub(crate) matched_key: String,
    pub(crate) received_at_ms: i64,
    pub(crate) key_id: String,
    /// The salted hashes of the subjects the clear body names.
    pub(crate) subjects: Vec<[u8; 32]>,
    pub(crate) entity: Option<EntityColumns>,
}

/// The `hookbr_entity_rows` columns of a row.
#[derive(Debug)]
pub(crate) struct EntityColumns {
    pub(crate) kind: String,
    pub(crate) entity_id: String,
    pub(crate) at_ms: Option<i64>,
    pub(crate) rank: Option<i16>,
    pub(crate) terminal: bool,
}

/// The row, its subject index entries (`$9`) in one statement: one round trip, one commit.
const INSERT: &str = "WITH new_row AS (INSERT INTO hookbr_inbox (endpoint, delivery_id, \
                      dedup_key, body, headers, matched_key, received_at, next_attempt_at, \
                      key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                      ON CONFLICT (dedup_key) DO NOTHING RETURNING id), \
                      indexed AS (INSERT INTO hookbr_inbox_subjects (subject, row_id) \
                      SELECT DISTINCT s, new_row.id FROM new_row, unnest($9::bytea[]) AS s \
                      ON CONFLICT DO NOTHING) \
                      SELECT id FROM new_row";

/// [`INSERT`] with the delivery's entity and position in the same statement (one commit).
const INSERT_WITH_ENTITY: &str = "WITH inserted AS (INSERT INTO hookbr_inbox (endpoint, \
     delivery_id, dedup_key, body, headers, matched_key, received_at, next_attempt_at, key_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (dedup_key) DO NOTHING \
     RETURNING id), \
     indexed AS (INSERT INTO hookbr_inbox_subjects (subject, row_id) \
     SELECT DISTINCT s, inserted.id FROM inserted, unnest($9::bytea[]) AS s \
     ON CONFLICT DO NOTHING), \
     noted AS (INSERT INTO hookbr_entity_rows (row_id, kind, entity_id, at_ms, rank, terminal) \
     SELECT id, $10, $11, $12, $13, $14 FROM inserted) \
     SELECT id FROM inserted";

/// Many rows in one statement. The columns arrive as parallel arrays (`$1`-`$8`, one element
/// per row, keys distinct); the subject entries as (key, subject) pairs (`$9`, `$10`) and the
/// entities as (key, columns) (`$11`-`$16`), joined to the new rows by key. The rows are
/// inserted in key order (see the module docs); the new rows' ids and keys come back.
const INSERT_MANY: &str = "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], \
     $3::bytea[], $4::bytea[], $5::text[], $6::text[], $7::bigint[], $8::text[]) \
     AS i(endpoint, delivery_id, dedup_key, body, headers, matched_key, received_at, key_id)), \
     new_rows AS (INSERT INTO hookbr_inbox (endpoint, delivery_id, dedup_key, body, headers, \
     matched_key, received_at, next_attempt_at, key_id) \
     SELECT endpoint, delivery_id, dedup_key, body, headers, matched_key, received_at, \
     received_at, key_id FROM input ORDER BY dedup_key \
     ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key), \
     indexed AS (INSERT INTO hookbr_inbox_subjects (subject, row_id) \
     SELECT DISTINCT s.subject, n.id FROM unnest($9::bytea[], $10::bytea[]) AS s(dedup_key, subject) \
     JOIN new_rows AS n ON n.dedup_key = s.dedup_key ON CONFLICT DO NOTHING), \
     noted AS (INSERT INTO hookbr_entity_rows (row_id, kind, entity_id, at_ms, rank, terminal) \
     SELECT n.id, e.kind, e.entity_id, e.at_ms, e.rank, e.terminal \
     FROM unnest($11::bytea[], $12::text[], $13::text[], $14::bigint[], $15::smallint[], \
     $16::boolean[]) AS e(dedup_key, kind, entity_id, at_ms, rank, terminal) \
     JOIN new_rows AS n ON n.dedup_key = e.dedup_key) \
     SELECT id, dedup_key FROM new_rows";

type Reply = oneshot::Sender<Result<Inserted, StoreError>>;

/// The queue of rows waiting for a commit, and its committer tasks (which end when every
/// handle to the queue is gone).
#[derive(Debug, Clone)]
pub(crate) struct InsertQueue {
    sender: mpsc::Sender<(RowToInsert, Reply)>,
}

impl InsertQueue {
    /// Starts `committers` tasks (at least one) writing to `pool` on the current tokio
    /// runtime, which must keep running while the queue is used: once it has shut down,
    /// inserts fail.
    pub(crate) fn start(pool: &Pool, committers: usize) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..committers.max(1) {
            tokio::spawn(commit_loop(pool.clone(), Arc::clone(&receiver)));
        }
        Self { sender }
    }

    /// Queues `row` and waits for its commit (at most [`INSERT_TIMEOUT`]).
    pub(crate) async fn insert(&self, row: RowToInsert) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let committed = async {
            self.sender
                .send((row, reply))
                .await
                .map_err(|_| StoreError::new("postgres: insert: the inbox's committers stopped"))?;
            answer.await.map_err(|_| {
                StoreError::new(
                    "postgres: insert: the committer stopped before answering (the row may be \
                     stored: a retry is answered as a duplicate)",
                )
            })?
        };
        tokio::time::timeout(INSERT_TIMEOUT, committed)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(format!(
                    "postgres: insert: not committed within {} s",
                    INSERT_TIMEOUT.as_secs()
                )))
            })
    }
}

/// One committer: takes every row waiting (at least one, up to [`MAX_BATCH`]) while the
/// others write theirs, then writes them.
async fn commit_loop(pool: Pool, queue: Arc<Mutex<mpsc::Receiver<(RowToInsert, Reply)>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let taken = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
        commit(&pool, std::mem::take(&mut batch)).await;
    }
}

/// Writes `batch` and answers each of its rows: the rows whose request still waits, in
/// statements of at most [`MAX_BATCH_BYTES`] of bodies.
async fn commit(pool: &Pool, mut batch: Vec<(RowToInsert, Reply)>) {
    batch.retain(|(_, reply)| !reply.is_closed());
    if batch.is_empty() {
        return;
    }
    let client = match pool.get().await {
        Ok(client) => client,
        Err(error) => {
            let error = pool_error("insert", &error);
            for (_, reply) in batch {
                let _ = reply.send(Err(error.clone()));
            }
            return;
        }
    };
    while !batch.is_empty() {
        // The first row always goes, however large; then as many as fit.
        let mut bytes = 0;
        let taken = batch
            .iter()
            .take_while(|(row, _)| {
                bytes += row.body.len();
                bytes == row.body.len() || bytes <= MAX_BATCH_BYTES
            })
            .count();
        let later = batch.split_off(taken);
        let (rows, replies): (Vec<RowToInsert>, Vec<Reply>) = batch.into_iter().unzip();
        for (reply, result) in replies.into_iter().zip(insert_rows(&client, &rows).await) {
            let _ = reply.send(result);
        }
        batch = later;
    }
}

/// Inserts `rows` on `client`: each row's result, in order.
async fn insert_rows(client: &Object, rows: &[RowToInsert]) -> Vec<Result<Inserted, StoreError>> {
    if let [row] = rows {
        return vec![insert_one(client, row).await];
    }
    // The first row of each key is written; a later copy is a duplicate of it. Each row:
    // the index of its key's row in `written`, and whether it is a later copy.
    let mut first_of: HashMap<&[u8], usize> = HashMap::with_capacity(rows.len());
    let mut written: Vec<&RowToInsert> = Vec::with_capacity(rows.len());
    let places: Vec<(usize, bool)> = rows
        .iter()
        .map(|row| match first_of.get(row.dedup_key.as_slice()) {
            Some(&first) => (first, true),
            None => {
                first_of.insert(&row.dedup_key, written.len());
                written.push(row);
                (written.len() - 1, false)
            }
        })
        .collect();
    let results: Vec<Result<Inserted, StoreError>> = match insert_many(client, &written).await {
        Ok(ids) => written
            .iter()
            .map(|row| {
                Ok(ids
                    .get(row.dedup_key.as_slice())
                    .map_or(Inserted::Duplicate, |&id| Inserted::New(id)))
            })
            .collect(),
        // The statement failed, and with it (as a rule) the whole batch: each row again on
        // its own, so that only the rows that fail alone are refused. (If the connection
        // broke after the commit, the retries fail at once, the requests are refused, and
        // the providers' retries are answered as duplicates.)
        Err(error) if client.is_closed() => vec![Err(error); written.len()],
        Err(_) => {
            let mut results = Vec::with_capacity(written.len());
            for row in &written {
                results.push(insert_one(client, row).await);
            }
            results
        }
    };
    places
        .into_iter()
        .map(|(index, copy)| {
            let result = results[index].clone();
            if copy {
                result.map(|_| Inserted::Duplicate)
            } else {
                result
            }
        })
        .collect()
}

/// One row, one statement (autocommit: the future resolves after the server's
/// `ReadyForQuery`, that is after the commit).
async fn insert_one(client: &Object, row: &RowToInsert) -> Result<Inserted, StoreError> {
    let statement = client
        .prepare_cached(if row.entity.is_some() {
            INSERT_WITH_ENTITY
        } else {
            INSERT
        })
        .await
        .map_err(failed("insert"))?;
    let subjects: Vec<&[u8]> = row.subjects.iter().map(<[u8; 32]>::as_slice).collect();
    let mut values: Vec<&(dyn ToSql + Sync)> = vec![
        &row.endpoint,
        &row.delivery_id,
        &row.dedup_key,
        &row.body,
        &row.headers,
        &row.matched_key,
        &row.received_at_ms,
        &row.key_id,
        &subjects,
    ];
    if let Some(entity) = &row.entity {
        values.extend_from_slice(&[
            &entity.kind,
            &entity.entity_id,
            &entity.at_ms,
            &entity.rank,
            &entity.terminal,
        ]);
    }
    let inserted = client
        .query_opt(&statement, &values)
        .await
        .map_err(failed("insert"))?;
    match inserted {
        Some(row) => Ok(Inserted::New(row.try_get(0).map_err(failed("insert"))?)),
        None => Ok(Inserted::Duplicate),
    }
}

/// `rows` (distinct keys) in one statement: the new rows' ids by key (a key missing was
/// already stored).
async fn insert_many(
    client: &Object,
    rows: &[&RowToInsert],
) -> Result<HashMap<Vec<u8>, i64>, StoreError> {
    let statement = client
        .prepare_cached(INSERT_MANY)
        .await
        .map_err(failed("insert"))?;
    let column = |f: fn(&RowToInsert) -> &str| rows.iter().map(|row| f(row)).collect::<Vec<_>>();
    let endpoints = column(|row| &row.endpoint);
    let delivery_ids = column(|row| &row.delivery_id);
    let headers = column(|row| &row.headers);
    let matched_keys = column(|row| &row.matched_key);
    let key_ids = column(|row| &row.key_id);
    let keys: Vec<&[u8]> = rows.iter().map(|row| row.dedup_key.as_slice()).collect();
    let bodies: Vec<&[u8]> = rows.iter().map(|row| row.body.as_slice()).collect();
    let received: Vec<i64> = rows.iter().map(|row| row.received_at_ms).collect();
    let (subject_keys, subjects): (Vec<&[u8]>, Vec<&[u8]>) = rows
        .iter()
        .flat_map(|row| {
            row.subjects
                .iter()
                .map(|subject| (row.dedup_key.as_slice(), subject.as_slice()))
        })
        .unzip();
    let entities: Vec<(&[u8], &EntityColumns)> = rows
        .iter()
        .filter_map(|row| Some((row.dedup_key.as_slice(), row.entity.as_ref()?)))
        .collect();
    let entity_keys: Vec<&[u8]> = entities.iter().map(|(key, _)| *key).collect();
    let kinds: Vec<&str> = entities.iter().map(|(_, e)| e.kind.as_str()).collect();
    let entity_ids: Vec<&str> = entities.iter().map(|(_, e)| e.entity_id.as_str()).collect();
    let at_ms: Vec<Option<i64>> = entities.iter().map(|(_, e)| e.at_ms).collect();
    let ranks: Vec<Option<i16>> = entities.iter().map(|(_, e)| e.rank).collect();
    let terminal: Vec<bool> = entities.iter().map(|(_, e)| e.terminal).collect();
    let new_rows = client
        .query(
            &statement,
            &[
                &endpoints,
                &delivery_ids,
                &keys,
                &bodies,
                &headers,
                &matched_keys,
                &received,
                &key_ids,
                &subject_keys,
                &subjects,
                &entity_keys,
                &kinds,
                &entity_ids,
                &at_ms,
                &ranks,
                &terminal,
            ],
        )
        .await
        .map_err(failed("insert"))?;
    new_rows
        .iter()
        .map(|row| Ok((row.try_get(1)?, row.try_get(0)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(failed("insert"))
}
