//! Time bins of a run's series. A run is binned in tenths of a second while
//! it lasts under a minute, so a 2-s burst or a 502 window keeps its shape
//! on a page, and in whole seconds past that, so an hour stays 3,600 bins.
//! A series starts fine and turns coarse once it records past the minute;
//! when the run ends, every series of it takes the run's width, so all
//! charts of a page share one.

use std::time::Duration;

use serde::ser::{Serialize, SerializeSeq, Serializer};

pub const FINE: Duration = Duration::from_millis(100);
pub const COARSE: Duration = Duration::from_secs(1);
/// Runs this long or longer are binned in whole seconds.
pub const FINE_UNTIL: Duration = Duration::from_secs(60);

/// The width of the bins of a run that lasted `length`.
pub fn width_for(length: Duration) -> Duration {
    if length < FINE_UNTIL {
        FINE
    } else {
        COARSE
    }
}

/// The bin of `offset` in bins of `width`.
pub fn index(offset: Duration, width: Duration) -> u64 {
    (offset.as_nanos() / width.as_nanos()) as u64
}

/// The bin of `width` that bin `index` of `from` falls in.
pub fn regroup(index: u64, from: Duration, to: Duration) -> u64 {
    (u128::from(index) * from.as_nanos() / to.as_nanos()) as u64
}

/// What two bins merged into one hold.
pub trait Merge {
    fn merge(&mut self, other: &Self);
}

/// Counters per time bin, in bin order, empty bins left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bins<T> {
    width: Duration,
    bins: Vec<(u64, T)>,
}

impl<T> Default for Bins<T> {
    fn default() -> Self {
        Bins {
            width: FINE,
            bins: Vec::new(),
        }
    }
}

impl<T: Default + Merge> Bins<T> {
    pub fn width(&self) -> Duration {
        self.width
    }

    /// The bin holding `offset` from the run's start.
    pub fn at(&mut self, offset: Duration) -> &mut T {
        if offset >= FINE_UNTIL {
            self.widen(COARSE);
        }
        let index = index(offset, self.width);
        // Samples arrive nearly in order: the bin is at or near the end.
        let position = self.bins.iter().rposition(|(i, _)| *i <= index);
        let at = match position {
            Some(p) if self.bins[p].0 == index => p,
            _ => {
                let at = position.map_or(0, |p| p + 1);
                self.bins.insert(at, (index, T::default()));
                at
            }
        };
        &mut self.bins[at].1
    }

    /// Merges the bins into bins of `width`, if that is wider.
    pub fn widen(&mut self, width: Duration) {
        if width <= self.width {
            return;
        }
        let mut merged: Vec<(u64, T)> = Vec::new();
        for (index, bin) in self.bins.drain(..) {
            let index = regroup(index, self.width, width);
            match merged.last_mut() {
                Some((last, into)) if *last == index => into.merge(&bin),
                _ => merged.push((index, bin)),
            }
        }
        self.bins = merged;
        self.width = width;
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.bins.iter().map(|(index, bin)| (*index, bin))
    }
}

/// `[{"bin": 3, ...the bin's counters}, ...]`; the width is written next
/// to the series as `bin_seconds`.
impl<T: Serialize> Serialize for Bins<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Entry<'a, T> {
            bin: u64,
            #[serde(flatten)]
            counters: &'a T,
        }
        let mut seq = serializer.serialize_seq(Some(self.bins.len()))?;
        for (bin, counters) in &self.bins {
            seq.serialize_element(&Entry {
                bin: *bin,
                counters,
            })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Merge for u64 {
        fn merge(&mut self, other: &Self) {
            *self += other;
        }
    }

    #[test]
    fn a_series_is_fine_under_a_minute_and_merges_into_seconds_past_it() {
        let mut bins = Bins::<u64>::default();
        for millis in [50, 120, 180, 950, 1_050, 30, 59_990] {
            *bins.at(Duration::from_millis(millis)) += 1;
        }
        assert_eq!(bins.width(), FINE);
        let fine: Vec<(u64, u64)> = bins.iter().map(|(i, n)| (i, *n)).collect();
        assert_eq!(fine, vec![(0, 2), (1, 2), (9, 1), (10, 1), (599, 1)]);

        *bins.at(Duration::from_millis(61_500)) += 1;
        assert_eq!(bins.width(), COARSE);
        let coarse: Vec<(u64, u64)> = bins.iter().map(|(i, n)| (i, *n)).collect();
        assert_eq!(coarse, vec![(0, 5), (1, 1), (59, 1), (61, 1)]);
    }

    #[test]
    fn widths_follow_the_runs_length() {
        assert_eq!(width_for(Duration::from_secs(59)), FINE);
        assert_eq!(width_for(Duration::from_secs(60)), COARSE);
        assert_eq!(regroup(25, FINE, COARSE), 2);
    }
}
