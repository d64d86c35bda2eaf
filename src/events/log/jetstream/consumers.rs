//! [`ConsumerStore`] over the `nats.consumers_bucket` key-value bucket: one entry per named
//! consumer, created only when absent, progress replaced only while the entry exists (a
//! revision check), so a late write cannot resurrect a deleted consumer.

use async_nats::jetstream::kv;
use async_trait::async_trait;
use futures::TryStreamExt;

use super::{JetStreamEventLog, rows, storage};
use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord};
use crate::events::log::{ConsumerStore, EventLogError};
use crate::nats::kv_key;

/// The entry key of a consumer: account and name, each encoded as a key token.
fn entry_key(key: &ConsumerKey) -> String {
    format!("{}.{}", kv_key(&key.account), kv_key(&key.name))
}

impl JetStreamEventLog {
    /// Returns the consumer under `key` with the entry's revision.
    async fn consumer_entry(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<(ConsumerRecord, u64)>, EventLogError> {
        let Some(entry) = self
            .consumers
            .entry(entry_key(key))
            .await
            .map_err(storage)?
        else {
            return Ok(None);
        };
        if entry.operation != kv::Operation::Put {
            return Ok(None);
        }
        let record = rows::decode_consumer(&entry.value).map_err(storage)?;
        Ok(Some((record, entry.revision)))
    }
}

#[async_trait]
impl ConsumerStore for JetStreamEventLog {
    async fn create_consumer(
        &self,
        record: ConsumerRecord,
    ) -> Result<ConsumerRecord, EventLogError> {
        self.check_open()?;
        let value = rows::encode_consumer(&record).map_err(storage)?;
        match self
            .consumers
            .create(entry_key(&record.key), value.into())
            .await
        {
            Ok(_) => Ok(record),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {
                match self.consumer_entry(&record.key).await? {
                    Some((existing, _)) => Ok(existing),
                    None => Err(storage(error)),
                }
            }
            Err(error) => Err(storage(error)),
        }
    }

    async fn load_consumer(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<ConsumerRecord>, EventLogError> {
        self.check_open()?;
        Ok(self.consumer_entry(key).await?.map(|(record, _)| record))
    }

    async fn list_consumers(&self) -> Result<Vec<ConsumerRecord>, EventLogError> {
        self.check_open()?;
        let keys: Vec<String> = match self.consumers.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(storage)?,
            Err(error) => return Err(storage(error)),
        };
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(value) = self.consumers.get(key).await.map_err(storage)? else {
                continue;
            };
            records.push(rows::decode_consumer(&value).map_err(storage)?);
        }
        records.sort_by(|a, b| (&a.key.account, &a.key.name).cmp(&(&b.key.account, &b.key.name)));
        Ok(records)
    }

    async fn save_acks(&self, key: &ConsumerKey, acks: AckState) -> Result<bool, EventLogError> {
        self.check_open()?;
        loop {
            let Some((mut record, revision)) = self.consumer_entry(key).await? else {
                return Ok(false);
            };
            record.acks = acks.clone();
            let value = rows::encode_consumer(&record).map_err(storage)?;
            match self
                .consumers
                .update(entry_key(key), value.into(), revision)
                .await
            {
                Ok(_) => return Ok(true),
                // Changed meanwhile (deleted, or saved by another writer): look again.
                Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(error) => return Err(storage(error)),
            }
        }
    }

    async fn delete_consumer(
        &self,
        key: &ConsumerKey,
    ) -> Result<Option<ConsumerRecord>, EventLogError> {
        self.check_open()?;
        let Some((record, _)) = self.consumer_entry(key).await? else {
            return Ok(None);
        };
        self.consumers
            .delete(entry_key(key))
            .await
            .map_err(storage)?;
        Ok(Some(record))
    }
}
