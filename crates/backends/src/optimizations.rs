//! The optimizations of the optimizing tier that can be switched off or
//! on by name (`lst --jit-opt`), in one table: each has a name and a
//! one-line description, and every later pass (inlining, …) joins the
//! table here. [`Optimizations`] is the set a compiler runs.
//!
//! This module only names and parses; which pass or back end does what
//! an optimization names is the compile driver's decision
//! ([`crate::jit::read_unit`]).

/// One optimization that can be switched off or on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimization {
    /// Float expression trees computed on unboxed doubles
    /// (`lst_jit::semantic::region`).
    Unbox,
    /// Monomorphic sends to small methods inlined under a class guard
    /// (`lst_jit::inline`).
    Inline,
    /// Float temporaries kept unboxed across an innermost loop
    /// (`lst_jit::semantic::loops`).
    UnboxLoops,
}

/// Every optimization, its name and what it does: the one table.
pub const OPTIMIZATIONS: &[(Optimization, &str, &str)] = &[
    (
        Optimization::Unbox,
        "unbox",
        "Float expression trees run on unboxed doubles, boxing only each tree's result",
    ),
    (
        Optimization::Inline,
        "inline",
        "monomorphic sends to small methods inlined under a class guard (Cranelift only)",
    ),
    (
        Optimization::UnboxLoops,
        "unbox-loops",
        "Float temporaries of an innermost loop kept unboxed across its iterations, in a copy \
         of the loop that writes them back when it leaves",
    ),
];

impl Optimization {
    /// The optimization called `name`, if there is one.
    pub fn named(name: &str) -> Option<Optimization> {
        OPTIMIZATIONS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(o, _, _)| *o)
    }

    /// Its name in [`OPTIMIZATIONS`].
    pub fn name(self) -> &'static str {
        OPTIMIZATIONS
            .iter()
            .find(|(o, _, _)| *o == self)
            .map_or("?", |(_, n, _)| n)
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

/// A set of optimizations: what a compiler runs at its optimizing level.
/// The default is every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Optimizations {
    on: u64,
}

impl Default for Optimizations {
    fn default() -> Self {
        Optimizations::all()
    }
}

/// One change a `--jit-opt` list asks for: switch an optimization on
/// (`true`) or off.
pub type Change = (Optimization, bool);

impl Optimizations {
    pub fn all() -> Optimizations {
        Optimizations {
            on: OPTIMIZATIONS.iter().fold(0, |on, (o, _, _)| on | o.bit()),
        }
    }

    pub fn none() -> Optimizations {
        Optimizations { on: 0 }
    }

    pub fn has(&self, o: Optimization) -> bool {
        self.on & o.bit() != 0
    }

    /// This set with `o` switched on or off.
    pub fn with(self, o: Optimization, on: bool) -> Optimizations {
        let on = if on {
            self.on | o.bit()
        } else {
            self.on & !o.bit()
        };
        Optimizations { on }
    }

    /// This set with `changes` applied in order.
    pub fn changed(self, changes: &[Change]) -> Optimizations {
        changes.iter().fold(self, |s, &(o, on)| s.with(o, on))
    }

    /// Reads a list such as `-unbox` or `+unbox,-other`: names separated
    /// by commas, each switched off by a leading `-` and on by a leading
    /// `+` or none; `all` and `none` stand for every optimization. An
    /// unknown name is an error that lists the known ones.
    pub fn parse_changes(list: &str) -> Result<Vec<Change>, String> {
        let mut changes = vec![];
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (on, name) = match item.as_bytes()[0] {
                b'-' => (false, &item[1..]),
                b'+' => (true, &item[1..]),
                _ => (true, item),
            };
            match (name, Optimization::named(name)) {
                (_, Some(o)) => changes.push((o, on)),
                ("all", None) => changes.extend(OPTIMIZATIONS.iter().map(|(o, _, _)| (*o, on))),
                ("none", None) => changes.extend(OPTIMIZATIONS.iter().map(|(o, _, _)| (*o, !on))),
                _ => return Err(unknown(name)),
            }
        }
        Ok(changes)
    }
}

/// The error for an unknown optimization name: the known ones, each with
/// what it does.
fn unknown(name: &str) -> String {
    let known: Vec<String> = OPTIMIZATIONS
        .iter()
        .map(|(_, n, what)| format!("  {n}: {what}"))
        .collect();
    format!(
        "unknown optimization `{name}`; the known ones are (write -NAME to switch one off, \
         +NAME to switch it on, all or none for every one):\n{}",
        known.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_switches_optimizations_off_and_on_in_order() {
        let all = Optimizations::all();
        assert!(all.has(Optimization::Unbox));
        let off = all.changed(&Optimizations::parse_changes("-unbox").unwrap());
        assert!(!off.has(Optimization::Unbox));
        let back = all.changed(&Optimizations::parse_changes("-unbox, +unbox").unwrap());
        assert!(back.has(Optimization::Unbox));
        let none = all.changed(&Optimizations::parse_changes("none").unwrap());
        assert_eq!(none, Optimizations::none());
        let again = none.changed(&Optimizations::parse_changes("unbox").unwrap());
        assert!(again.has(Optimization::Unbox));
    }

    #[test]
    fn an_unknown_name_is_an_error_listing_the_known_ones() {
        let e = Optimizations::parse_changes("-unboxing").unwrap_err();
        assert!(e.contains("unknown optimization `unboxing`"), "{e}");
        assert!(e.contains("unbox: Float expression trees"), "{e}");
        assert!(Optimizations::parse_changes("-").is_err());
    }

    #[test]
    fn every_name_in_the_table_is_found_again() {
        for (o, name, _) in OPTIMIZATIONS {
            assert_eq!(Optimization::named(name), Some(*o));
            assert_eq!(o.name(), *name);
        }
    }
}
