//! This node's own records on their way to the peers closest to their keys, a few at a time:
//! no I/O here.
//!
//! A burst of dealings gives a node thousands of records to publish at once. Started together,
//! their puts queued behind each other on the same few connections until most of them timed out
//! (2,400 timeouts on one validator in a 1,000-stream burst), and Kademlia's own republication,
//! which starts only while fewer than 100 queries are under way, never ran. So at most
//! [`IN_FLIGHT`] puts run at once, the others wait in order, and a put that failed is tried again
//! at the back of the line, [`ATTEMPTS`] times in all; after that, Kademlia's periodic
//! republication of the node's own records is what is left.

use std::{
	collections::{HashMap, VecDeque},
	hash::Hash,
};

use libp2p::kad::{Record, RecordKey};

/// Puts of own records under way at once.
pub const IN_FLIGHT: usize = 32;

/// Puts of one record, the first included.
pub const ATTEMPTS: u32 = 3;

/// A record to put, and the puts of it made so far.
pub struct Publication {
	/// The record.
	pub record: Record,
	attempts: u32,
}

/// Own records waiting to be put, oldest first, and the puts under way by query `Q`.
pub struct Publications<Q> {
	order: VecDeque<RecordKey>,
	waiting: HashMap<RecordKey, Publication>,
	in_flight: HashMap<Q, Publication>,
	max_waiting: usize,
}

impl<Q: Eq + Hash> Publications<Q> {
	/// At most `max_waiting` records wait; beyond, the oldest waiting goes.
	pub fn new(max_waiting: usize) -> Self {
		Self {
			order: VecDeque::new(),
			waiting: HashMap::new(),
			in_flight: HashMap::new(),
			max_waiting,
		}
	}

	/// Queues `record` to be put, unless the very same record waits or is being put already.
	/// A record under the key of a waiting one (another dealing of the epoch, after a reorg)
	/// takes its place in the line. Returns whether a waiting record had to go to make room.
	pub fn queue(&mut self, record: Record) -> bool {
		if self.in_flight.values().any(|put| put.record == record) {
			return false;
		}
		if let Some(waiting) = self.waiting.get_mut(&record.key) {
			*waiting = Publication { record, attempts: 0 };
			return false;
		}
		self.push(Publication { record, attempts: 0 })
	}

	fn push(&mut self, publication: Publication) -> bool {
		let full = self.waiting.len() >= self.max_waiting;
		if full {
			if let Some(oldest) = self.order.pop_front() {
				self.waiting.remove(&oldest);
			}
		}
		self.order.push_back(publication.record.key.clone());
		self.waiting.insert(publication.record.key.clone(), publication);
		full
	}

	/// The next record to put, if fewer than [`IN_FLIGHT`] puts are under way. Its put is
	/// reported with [`Self::started`]; if none could start, it is simply dropped.
	pub fn next(&mut self) -> Option<Publication> {
		if self.in_flight.len() >= IN_FLIGHT {
			return None;
		}
		let key = self.order.pop_front()?;
		self.waiting.remove(&key)
	}

	/// The put of `publication` (from [`Self::next`]) is under way as `query`.
	pub fn started(&mut self, query: Q, mut publication: Publication) {
		publication.attempts += 1;
		self.in_flight.insert(query, publication);
	}

	/// The put `query` ended. A failed put goes to the back of the line unless it was the
	/// record's last attempt, or a newer record under its key waits already. Returns whether
	/// `query` was one of these puts.
	pub fn finished(&mut self, query: &Q, succeeded: bool) -> bool {
		let Some(publication) = self.in_flight.remove(query) else { return false };
		if !succeeded
			&& publication.attempts < ATTEMPTS
			&& !self.waiting.contains_key(&publication.record.key)
		{
			self.push(publication);
		}
		true
	}

	/// Records waiting, and puts under way.
	#[cfg(test)]
	fn len(&self) -> (usize, usize) {
		(self.waiting.len(), self.in_flight.len())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn record(key: u8, value: u8) -> Record {
		Record::new(RecordKey::new(&[key; 32]), vec![value])
	}

	/// Starts every put the line allows, numbering queries on from `last_query`; returns each
	/// put's query and (key, value).
	fn start_all(
		publications: &mut Publications<u32>,
		last_query: &mut u32,
	) -> Vec<(u32, (u8, u8))> {
		let mut started = Vec::new();
		while let Some(publication) = publications.next() {
			*last_query += 1;
			started.push((
				*last_query,
				(publication.record.key.as_ref()[0], publication.record.value[0]),
			));
			publications.started(*last_query, publication);
		}
		started
	}

	#[test]
	fn at_most_in_flight_puts_run_oldest_first_and_each_end_lets_the_next_start() {
		let mut publications = Publications::new(1024);
		for key in 0..100 {
			publications.queue(record(key, 0));
		}
		let mut query = 0;
		let started = start_all(&mut publications, &mut query);
		let keys: Vec<u8> = started.iter().map(|(_, (key, _))| *key).collect();
		assert_eq!(keys, (0..IN_FLIGHT as u8).collect::<Vec<_>>());
		assert_eq!(publications.len(), (100 - IN_FLIGHT, IN_FLIGHT));
		assert!(publications.finished(&started[0].0, true));
		assert!(!publications.finished(&started[0].0, true), "a query ends once");
		assert!(!publications.finished(&999, false), "not one of these puts");
		assert_eq!(start_all(&mut publications, &mut query), vec![(query, (IN_FLIGHT as u8, 0))]);
	}

	#[test]
	fn the_same_record_is_put_once_and_a_newer_one_under_its_key_replaces_it() {
		let mut publications = Publications::new(1024);
		publications.queue(record(1, 0));
		publications.queue(record(1, 0));
		publications.queue(record(2, 0));
		publications.queue(record(2, 1));
		let mut query = 0;
		let started = start_all(&mut publications, &mut query);
		assert_eq!(started.iter().map(|(_, put)| *put).collect::<Vec<_>>(), [(1, 0), (2, 1)]);
		// Being put already: not queued again; another record under its key is.
		publications.queue(record(1, 0));
		publications.queue(record(2, 2));
		assert_eq!(publications.len(), (1, 2));
	}

	#[test]
	fn a_failed_put_is_tried_again_at_the_back_of_the_line_attempts_times_in_all() {
		let mut publications = Publications::new(1024);
		publications.queue(record(1, 0));
		let mut query = 0;
		let first = start_all(&mut publications, &mut query);
		publications.queue(record(2, 0));
		publications.finished(&first[0].0, false);
		let second = start_all(&mut publications, &mut query);
		assert_eq!(second.iter().map(|(_, put)| *put).collect::<Vec<_>>(), [(2, 0), (1, 0)]);
		publications.finished(&second[0].0, true);
		publications.finished(&second[1].0, false);
		let third = start_all(&mut publications, &mut query);
		assert_eq!(third.iter().map(|(_, put)| *put).collect::<Vec<_>>(), [(1, 0)]);
		assert_eq!(ATTEMPTS, 3);
		publications.finished(&third[0].0, false);
		assert_eq!(publications.len(), (0, 0), "given up after {ATTEMPTS} attempts");
	}

	#[test]
	fn beyond_max_waiting_the_oldest_waiting_record_goes() {
		let mut publications = Publications::<u32>::new(2);
		assert!(!publications.queue(record(1, 0)));
		assert!(!publications.queue(record(2, 0)));
		assert!(publications.queue(record(3, 0)));
		assert_eq!(publications.next().map(|put| put.record.key.as_ref()[0]), Some(2));
	}
}
