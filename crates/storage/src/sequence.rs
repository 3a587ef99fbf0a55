//! Sequence state: `nextval` / `setval`, non-transactional and WAL-logged ahead.
//!
//! A sequence's definition is catalog (transactional); its counter is not: a
//! `nextval` is never rolled back. As in PostgreSQL, `nextval` writes a SEQUENCE
//! record only every 32 calls, logging the value 32 steps ahead; after a crash
//! the counter resumes from the logged value, so it may skip up to 32 values but
//! never repeats one. `setval` always logs. Records are appended under the commit
//! mutex (lock order: commit mutex, then the sequence map) so a checkpoint taken
//! under the commit mutex sees the state of exactly the records before its redo.
//! PostgreSQL counterpart: `commands/sequence.c` (SEQ_LOG_VALS, log_cnt).

use std::collections::HashMap;

use parking_lot::Mutex;
use tandem_types::{Oid, PgError, PgResult, SqlState};

use crate::record::SequenceRecord;
use crate::SequenceDef;

/// Values fetched ahead per logged record (PostgreSQL's `SEQ_LOG_VALS`).
pub const SEQ_LOG_VALS: i64 = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqState {
    pub last_value: i64,
    pub is_called: bool,
    /// nextval calls left before the next record must be written
    pub log_cnt: i64,
    /// what recovery would restore: the last logged (last_value, is_called)
    pub logged: (i64, bool),
    /// the increment `log_cnt` was counted with: a sequence whose increment
    /// changed since (ALTER SEQUENCE) logs again at its next nextval
    pub logged_step: i64,
}

impl SeqState {
    pub fn new(def: &SequenceDef) -> SeqState {
        SeqState {
            last_value: def.start,
            is_called: false,
            log_cnt: 0,
            logged: (def.start, false),
            logged_step: def.increment,
        }
    }

    /// State after recovery from a logged value.
    pub fn restored(last_value: i64, is_called: bool) -> SeqState {
        SeqState {
            last_value,
            is_called,
            log_cnt: 0,
            logged: (last_value, is_called),
            logged_step: 0,
        }
    }
}

/// One step from `v`, or None at the limit (wrapping when the sequence cycles).
fn step(def: &SequenceDef, v: i64) -> Option<i64> {
    let next = v.checked_add(def.increment);
    if def.increment > 0 {
        match next {
            Some(n) if n <= def.max_value => Some(n),
            _ if def.cycle => Some(def.min_value),
            _ => None,
        }
    } else {
        match next {
            Some(n) if n >= def.min_value => Some(n),
            _ if def.cycle => Some(def.max_value),
            _ => None,
        }
    }
}

fn limit_error(def: &SequenceDef) -> PgError {
    let (which, v) = if def.increment > 0 {
        ("maximum", def.max_value)
    } else {
        ("minimum", def.min_value)
    };
    PgError::new(
        SqlState("2200H"),
        format!(
            "nextval: reached {which} value of sequence \"{}\" ({v})",
            def.name
        ),
    )
}

/// The value `nextval` returns and, when a record is due, the record to log.
fn compute(def: &SequenceDef, st: &SeqState) -> PgResult<(i64, Option<SequenceRecord>)> {
    let value = if st.is_called {
        step(def, st.last_value).ok_or_else(|| limit_error(def))?
    } else {
        st.last_value
    };
    if st.log_cnt > 0 && st.logged_step == def.increment {
        return Ok((value, None));
    }
    let mut ahead = value;
    for _ in 0..SEQ_LOG_VALS {
        match step(def, ahead) {
            // Do not log a wrapped-around value: a crash would restart from it.
            Some(n) if (def.increment > 0) == (n > ahead) => ahead = n,
            _ => break,
        }
    }
    Ok((
        value,
        Some(SequenceRecord {
            seq: def.oid,
            last_value: ahead,
            is_called: true,
        }),
    ))
}

/// Counters of all sequences, keyed by OID.
#[derive(Default)]
pub struct Sequences {
    states: Mutex<HashMap<Oid, SeqState>>,
}

impl Sequences {
    /// nextval without writing WAL, if no record is due; `Ok(None)` means the
    /// caller must take the commit mutex and call [`Sequences::nextval_logged`].
    pub fn nextval_fast(&self, def: &SequenceDef) -> PgResult<Option<i64>> {
        let mut states = self.states.lock();
        let st = states.entry(def.oid).or_insert_with(|| SeqState::new(def));
        let (value, rec) = compute(def, st)?;
        if rec.is_some() {
            return Ok(None);
        }
        st.last_value = value;
        st.is_called = true;
        st.log_cnt -= 1;
        Ok(Some(value))
    }

    /// nextval that may write a record through `append` (called with the commit
    /// mutex held by the caller).
    pub fn nextval_logged(
        &self,
        def: &SequenceDef,
        append: impl FnOnce(&SequenceRecord) -> PgResult<()>,
    ) -> PgResult<i64> {
        let mut states = self.states.lock();
        let st = states.entry(def.oid).or_insert_with(|| SeqState::new(def));
        let (value, rec) = compute(def, st)?;
        match rec {
            Some(rec) => {
                append(&rec)?;
                // Values strictly between `value` and the logged one remain.
                let steps = if def.increment != 0 {
                    (rec.last_value - value) / def.increment
                } else {
                    0
                };
                st.log_cnt = steps.max(0);
                st.logged = (rec.last_value, true);
                st.logged_step = def.increment;
            }
            None => st.log_cnt -= 1,
        }
        st.last_value = value;
        st.is_called = true;
        Ok(value)
    }

    /// setval: checks bounds, logs through `append` (commit mutex held by caller).
    pub fn setval(
        &self,
        def: &SequenceDef,
        value: i64,
        is_called: bool,
        append: impl FnOnce(&SequenceRecord) -> PgResult<()>,
    ) -> PgResult<i64> {
        if value < def.min_value || value > def.max_value {
            return Err(PgError::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                    def.name, def.min_value, def.max_value
                ),
            ));
        }
        let mut states = self.states.lock();
        append(&SequenceRecord {
            seq: def.oid,
            last_value: value,
            is_called,
        })?;
        states.insert(def.oid, SeqState::restored(value, is_called));
        Ok(value)
    }

    /// Recovery: a SEQUENCE record.
    pub fn redo(&self, rec: &SequenceRecord) {
        self.states
            .lock()
            .insert(rec.seq, SeqState::restored(rec.last_value, rec.is_called));
    }

    /// A sequence created (state reset) or dropped.
    pub fn reset(&self, def: &SequenceDef) {
        self.states.lock().insert(def.oid, SeqState::new(def));
    }
    pub fn remove(&self, oid: Oid) {
        self.states.lock().remove(&oid);
    }

    pub fn state(&self, oid: Oid) -> Option<SeqState> {
        self.states.lock().get(&oid).cloned()
    }

    /// What a checkpoint stores: each sequence's logged (last_value, is_called).
    pub fn logged_states(&self) -> Vec<(Oid, i64, bool)> {
        let mut v: Vec<_> = self
            .states
            .lock()
            .iter()
            .map(|(o, s)| (*o, s.logged.0, s.logged.1))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::DataType;

    fn def(max: i64, cycle: bool) -> SequenceDef {
        SequenceDef {
            oid: Oid(16400),
            schema: "public".into(),
            name: "s".into(),
            data_type: DataType::Int8,
            start: 1,
            increment: 1,
            min_value: 1,
            max_value: max,
            cache: 1,
            cycle,
            owned_by: None,
        }
    }

    fn next(seqs: &Sequences, d: &SequenceDef, log: &mut Vec<SequenceRecord>) -> PgResult<i64> {
        match seqs.nextval_fast(d)? {
            Some(v) => Ok(v),
            None => seqs.nextval_logged(d, |r| {
                log.push(r.clone());
                Ok(())
            }),
        }
    }

    #[test]
    fn nextval_logs_32_ahead_and_recovers_past_them() {
        let seqs = Sequences::default();
        let d = def(i64::MAX, false);
        let mut log = Vec::new();
        let vals: Vec<i64> = (0..40)
            .map(|_| next(&seqs, &d, &mut log).unwrap())
            .collect();
        assert_eq!(vals, (1..=40).collect::<Vec<_>>());
        assert_eq!(
            log.iter().map(|r| r.last_value).collect::<Vec<_>>(),
            vec![33, 66]
        );
        // After a crash: resume after the last logged value.
        let recovered = Sequences::default();
        recovered.redo(&log[1]);
        assert_eq!(next(&recovered, &d, &mut log).unwrap(), 67);
    }

    #[test]
    fn nextval_stops_at_maximum_with_postgres_error() {
        let seqs = Sequences::default();
        let d = def(3, false);
        let mut log = Vec::new();
        for want in 1..=3 {
            assert_eq!(next(&seqs, &d, &mut log).unwrap(), want);
        }
        let err = next(&seqs, &d, &mut log).unwrap_err();
        assert_eq!(err.code, SqlState("2200H"));
        assert_eq!(
            err.message,
            "nextval: reached maximum value of sequence \"s\" (3)"
        );
        let c = def(2, true);
        let seqs = Sequences::default();
        let vals: Vec<i64> = (0..5).map(|_| next(&seqs, &c, &mut log).unwrap()).collect();
        assert_eq!(vals, vec![1, 2, 1, 2, 1]);
    }

    #[test]
    fn setval_checks_bounds_and_sets_is_called() {
        let seqs = Sequences::default();
        let d = def(100, false);
        let mut log = Vec::new();
        let err = seqs.setval(&d, 0, true, |_| Ok(())).unwrap_err();
        assert_eq!(
            err.message,
            "setval: value 0 is out of bounds for sequence \"s\" (1..100)"
        );
        seqs.setval(&d, 10, true, |_| Ok(())).unwrap();
        assert_eq!(next(&seqs, &d, &mut log).unwrap(), 11);
        seqs.setval(&d, 10, false, |_| Ok(())).unwrap();
        assert_eq!(next(&seqs, &d, &mut log).unwrap(), 10);
    }
}
