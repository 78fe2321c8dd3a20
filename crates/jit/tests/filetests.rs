//! Text filetests, in the manner of Cranelift's:
//!
//! * `filetests/translate/*.test`: a Smalltalk method, a line `---`, then
//!   the IR the translator must produce for it (and for its block bodies,
//!   each after a blank line). `LST_BLESS=1` rewrites the expected part
//!   from the actual output (review the diff before committing it).
//! * `filetests/fold/*.test`: the same, after [`lst_jit::fold`].
//! * `filetests/semantic/*.test`: the same, after [`lst_jit::semantic`]
//!   (SmallInt's, Float's and the object inline operations as the literals'
//!   facts) and then
//!   [`lst_jit::fold`]. Lines of the source part starting `; fires:` list
//!   instructions (`int_sub`, `inline_valid int_rem` …) the lowered IR
//!   must contain, checked even when blessing (`; quick:` lines list
//!   selectors the facts say a quick method answers): a fast path that should
//!   fire and does not fails the test whatever the expected text says.
//! * `filetests/unbox/*.test`: the same, after [`lst_jit::semantic::region::unbox`],
//!   then the semantic lowering and fold (every step verified). Besides
//!   `; fires:` and `; quick:`, a source may say `; not_float: PC, PC`
//!   (the facts' sends whose receivers were never Floats), `; absent: X`
//!   (no instruction X outside the slow paths of the regions: the blocks
//!   the region pass made for the original sends and what the lowering
//!   made of them) and `; count: X N` (exactly N instructions X in all).
//! * `filetests/loops/*.test`: as `unbox`, with [`lst_jit::semantic::loops`]
//!   after the semantic lowering; `; absent: X` looks only at the blocks
//!   the loop pass made (the loop's copy and the blocks that leave it).
//! * `filetests/inline/*.test`: methods of one test class (instance
//!   variables x and y), separated by lines `!`; the first is the caller.
//!   A line `; inline: @PC Test>>sel` offers method `sel` (compiled from
//!   the test's own source) as the candidate for the caller's send at
//!   PC, `; inline: Test>>outer @PC Test>>sel` for the send at PC of the
//!   inlined method `outer`; `; slow: [Test>>outer] @PC` says the
//!   feedback of that special send saw receivers its fast paths do not
//!   serve (Characters, say); `; ivars: a b c` names other instance
//!   variables; `; instance_size: N` (default: their number) and
//!   `; depth: N`, `; callee_insts: N` (the defaults: `Budget`'s) set the
//!   candidate's instance size and the budget. The expected text is the caller after
//!   [`lst_jit::inline`] (verified). `; inlined: N` and `; refused: PC
//!   REASON` check the pass's statistics; `; fires:`, `; absent:` (nowhere)
//!   and `; count:` check the IR after the region pass, the semantic
//!   lowering (`; quick:` as above) and fold, each step verified.
//! * `filetests/verify/*.ir`: IR whose first line is `; ok` (it must
//!   verify and print back to exactly the same text) or `; error: TEXT`
//!   (verification must fail with a message containing TEXT).

use lst_bytecode::inline_ops::{ObjectOp, Receiver};
use lst_jit::inline::{Budget, Candidate, InlineOracle, LiteralBlock, Site};
use lst_jit::ir::Kind;
use lst_jit::ir::{BlockId, ConstKind, Constant, Function, InlineOp, Inst, Selector};
use lst_jit::translate::{Source, block_bodies, translate};
use lst_jit::{parse, semantic, verify};
use std::collections::HashSet;
use std::path::PathBuf;

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = format!("{}/tests/filetests/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .{ext} files in {dir}");
    v
}

/// What a filetest does to the translated IR.
#[derive(Clone, Copy, PartialEq)]
enum Passes {
    None,
    Fold,
    /// The semantic lowering, then fold.
    Semantic,
    /// The unboxed regions, the semantic lowering, then fold.
    Unbox,
    /// The unboxed regions, the semantic lowering, the unboxed loops
    /// (`semantic::loops`), then fold.
    Loops,
}

/// What a test's source says besides its code (its `;` lines).
#[derive(Default)]
struct Header {
    /// `; fires:` instructions the IR must contain.
    fires: Vec<String>,
    /// `; quick:` selectors a quick method may answer.
    quick: Vec<String>,
    /// `; not_float:` send sites never seen with a Float receiver.
    not_float: Vec<u16>,
    /// `; absent:` instructions no fast path may contain.
    absent: Vec<String>,
    /// `; count:` instructions and how many the IR has of each.
    count: Vec<(String, usize)>,
}

impl Header {
    fn of(source: &str) -> Header {
        let mut h = Header::default();
        for line in source.lines().map(str::trim) {
            let Some((key, rest)) = line.strip_prefix(';').and_then(|l| l.split_once(':')) else {
                continue;
            };
            let items = rest.split(',').map(str::trim).filter(|w| !w.is_empty());
            match key.trim() {
                "fires" => h.fires.extend(items.map(String::from)),
                "quick" => h.quick.extend(items.map(String::from)),
                "not_float" => h.not_float.extend(items.map(|w| w.parse::<u16>().unwrap())),
                "absent" => h.absent.extend(items.map(String::from)),
                "count" => h.count.extend(items.map(|w| {
                    let (name, n) = w.rsplit_once(' ').expect("`; count: NAME N`");
                    (name.to_string(), n.parse().expect("a count"))
                })),
                _ => {}
            }
        }
        h
    }
}

/// The blocks of `f` (after the region pass) that hold the original
/// sends of a region: new blocks (ids from `first_new`) with a send.
fn slow_blocks(f: &Function, first_new: u32) -> HashSet<BlockId> {
    f.blocks
        .iter()
        .filter(|b| b.id.0 >= first_new)
        .filter(|b| b.insts.iter().any(|i| matches!(i.inst, Inst::Send { .. })))
        .map(|b| b.id)
        .collect()
}

/// The text of the blocks of `f` outside the slow paths: blocks the
/// lowering made (ids from `first_new`) belong with the block before them
/// (the lowering inserts a send's blocks after the block it cuts).
fn outside(f: &Function, slow: &HashSet<BlockId>, first_new: u32) -> String {
    let mut in_slow = false;
    let mut text = String::new();
    for b in &f.blocks {
        if b.id.0 < first_new {
            in_slow = slow.contains(&b.id);
        }
        if !in_slow {
            let mut one = f.clone();
            one.blocks = vec![b.clone()];
            text.push_str(&one.to_string());
        }
    }
    text
}

/// The text of the blocks of `f` from `first` on (those a pass made).
fn made(f: &Function, first: u32) -> String {
    let mut one = f.clone();
    one.blocks.retain(|b| b.id.0 >= first);
    one.to_string()
}

/// For each literal of `m` that is a selector `receiver` answers inline,
/// that operation.
fn literal_ops(m: &lst_compiler::CompiledMethod, receiver: Receiver) -> Vec<Option<InlineOp>> {
    m.literals
        .iter()
        .map(|l| match l {
            lst_compiler::LiteralValue::Selector(s) => {
                InlineOp::of_selector(receiver, s.as_bytes())
            }
            _ => None,
        })
        .collect()
}

/// The IR text for a method's source: the method, then each block body,
/// after `passes` (with the facts `header` gives); and the text of the
/// blocks outside the regions' slow paths.
fn translated(source: &str, passes: Passes, header: &Header) -> (String, String) {
    let quick_names = &header.quick;
    let m = lst_compiler::compile_method(source, &["x".into(), "y".into()])
        .unwrap_or_else(|d| panic!("{d:?}"));
    let ops = literal_ops(&m, Receiver::SmallInt);
    let float_ops = literal_ops(&m, Receiver::Float);
    let object_ops: Vec<Option<ObjectOp>> = m
        .literals
        .iter()
        .map(|l| match l {
            lst_compiler::LiteralValue::Selector(s) => ObjectOp::of_selector(s.as_bytes()),
            _ => None,
        })
        .collect();
    let quick: Vec<bool> = m
        .literals
        .iter()
        .map(|l| match l {
            lst_compiler::LiteralValue::Selector(s) => quick_names.contains(s),
            _ => false,
        })
        .collect();
    let name = format!("Test>>{}", m.selector);
    let src = Source {
        name: &name,
        bytecodes: &m.bytecodes,
        arg_count: m.arg_count as u8,
        temp_count: m.temp_size as u8,
    };
    let mut out = vec![];
    let mut fast = String::new();
    let kinds = std::iter::once(Kind::Method).chain(
        block_bodies(&m.bytecodes)
            .into_iter()
            .map(|(start, _)| Kind::BlockBody { start }),
    );
    for kind in kinds {
        let f = translate(&src, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut f = f;
        let facts = semantic::Facts {
            literal_ops: &ops,
            float_ops: &float_ops,
            object_ops: &object_ops,
            quick: &quick,
            not_float: &header.not_float,
        };
        let mut slow = (HashSet::new(), u32::MAX);
        // The first block the loop pass made: `absent:` looks at those only.
        let mut loop_blocks = None;
        let next_id = |f: &Function| f.blocks.iter().map(|b| b.id.0 + 1).max().unwrap_or(0);
        if matches!(passes, Passes::Unbox | Passes::Loops) {
            let first_new = next_id(&f);
            semantic::region::unbox(&mut f, &facts);
            verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
            let after = next_id(&f);
            slow = (slow_blocks(&f, first_new), after);
        }
        if matches!(passes, Passes::Semantic | Passes::Unbox | Passes::Loops) {
            semantic::lower(&mut f, &facts);
            verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
        }
        if passes == Passes::Loops {
            let first_new = next_id(&f);
            semantic::loops::unbox_loops(&mut f);
            verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
            loop_blocks = Some(first_new);
        }
        if passes != Passes::None {
            lst_jit::fold::fold(&mut f);
        }
        verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
        match loop_blocks {
            Some(first) => fast.push_str(&made(&f, first)),
            None => fast.push_str(&outside(&f, &slow.0, slow.1)),
        }
        out.push(f.to_string());
    }
    (out.join("\n"), fast)
}

#[test]
fn translate_filetests() {
    expected_output("translate", Passes::None);
}

#[test]
fn fold_filetests() {
    expected_output("fold", Passes::Fold);
}

#[test]
fn semantic_filetests() {
    expected_output("semantic", Passes::Semantic);
}

#[test]
fn unbox_filetests() {
    expected_output("unbox", Passes::Unbox);
}

#[test]
fn loops_filetests() {
    expected_output("loops", Passes::Loops);
}

/// How many instructions `name` (with their operands' first words, e.g.
/// `inline_valid int_rem`) `ir` has.
fn count_instruction(ir: &str, name: &str) -> usize {
    ir.lines()
        .filter(|l| {
            let body = l.split_once(" = ").map_or(l.trim(), |(_, b)| b);
            body == name || body.starts_with(&format!("{name} "))
        })
        .count()
}

fn has_instruction(ir: &str, name: &str) -> bool {
    count_instruction(ir, name) > 0
}

fn expected_output(dir: &str, passes: Passes) {
    let bless = std::env::var_os("LST_BLESS").is_some();
    for path in files(dir, "test") {
        let text = std::fs::read_to_string(&path).unwrap();
        let (source, expected) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
        let header = Header::of(source);
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .map(|l| format!("{l}\n"))
            .collect();
        let (actual, fast) = translated(&code, passes, &header);
        for name in &header.fires {
            assert!(
                has_instruction(&actual, name),
                "{}: the fast path `{name}` does not fire:\n{actual}",
                path.display()
            );
        }
        for name in &header.absent {
            assert!(
                !has_instruction(&fast, name),
                "{}: `{name}` is outside the slow paths:\n{fast}",
                path.display()
            );
        }
        for (name, n) in &header.count {
            let have = count_instruction(&actual, name);
            assert_eq!(have, *n, "{}: {have} `{name}`:\n{actual}", path.display());
        }
        if bless {
            std::fs::write(&path, format!("{source}\n---\n{actual}")).unwrap();
        } else {
            assert_eq!(actual.trim(), expected.trim(), "{}", path.display());
        }
    }
}

#[test]
fn verify_filetests() {
    for path in files("verify", "ir") {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        let f = parse::parse_function(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let result = verify::verify(&f);
        match first.strip_prefix("; error: ") {
            Some(want) => {
                let errors = result.expect_err(&format!("{} verified", path.display()));
                assert!(
                    errors.iter().any(|e| e.contains(want.trim())),
                    "{}: wanted {want:?}, got {errors:?}",
                    path.display()
                );
            }
            None => {
                assert_eq!(first.trim(), "; ok", "{}: first line", path.display());
                result.unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
                assert_eq!(
                    f.to_string(),
                    body,
                    "{} does not print back",
                    path.display()
                );
            }
        }
    }
}

/// The inlining filetests' oracle: offers the test's own methods where
/// its `; inline:` lines say.
struct TestOracle {
    methods: Vec<lst_compiler::CompiledMethod>,
    /// (the inlined method the send is in, `None`: the caller; the send's
    /// pc; the selector of the method to offer).
    offers: Vec<(Option<String>, u16, String)>,
    /// The special sends (method, pc as in `offers`) whose feedback saw
    /// receivers their fast paths do not serve.
    slow: Vec<(Option<String>, u16)>,
    instance_size: usize,
}

/// The handle of the test's `k`th method (the class is handle 1).
const METHOD_HANDLES: u32 = 100;

impl TestOracle {
    /// The selector of the inlined method a site is in (`None`: the caller).
    fn in_method(&self, at: &Site) -> Option<String> {
        at.method_handle
            .map(|h| self.methods[(h - METHOD_HANDLES) as usize].selector.clone())
    }

    /// The selector a site sends, from its method's literals.
    fn selector(&self, at: &Site) -> String {
        let m = match at.method_handle {
            None => &self.methods[0],
            Some(h) => &self.methods[(h - METHOD_HANDLES) as usize],
        };
        match at.selector {
            Selector::Special(s) => s.selector().to_string(),
            Selector::Literal(n) => match &m.literals[usize::from(n)] {
                lst_compiler::LiteralValue::Selector(s) => s.clone(),
                other => panic!("the site's selector is the literal {other:?}"),
            },
        }
    }
}

impl InlineOracle for TestOracle {
    fn fast_special(&mut self, at: &Site) -> bool {
        let in_method = self.in_method(at);
        !self.slow.contains(&(in_method, at.pc))
    }

    /// A `value…` send activates a block (the test's image has Block's
    /// primitive there).
    fn activates_block(&mut self, at: &Site) -> bool {
        let selector = self.selector(at);
        selector == "value" || selector.split_inclusive(':').all(|p| p == "value:")
    }

    /// The caller's (the test's first method's) block at `body`.
    fn literal_block(&mut self, body: u16) -> Option<LiteralBlock> {
        let m = &self.methods[0];
        let &(_, arity) = m.block_arities.iter().find(|(b, _)| *b == body)?;
        let name = format!("Test>>{}", m.selector);
        let src = Source {
            name: &name,
            bytecodes: &m.bytecodes,
            arg_count: m.arg_count as u8,
            temp_count: m.temp_size as u8,
        };
        let body_ir = translate(&src, Kind::BlockBody { start: body }).ok()?;
        Some(LiteralBlock {
            home: Constant {
                kind: ConstKind::Block,
                name,
                handle: METHOD_HANDLES - 1,
            },
            body: body_ir,
            arity: usize::from(arity),
        })
    }

    fn candidate(&mut self, at: Site) -> Option<Candidate> {
        let in_method = self.in_method(&at);
        let (_, _, selector) = self
            .offers
            .iter()
            .find(|(m, pc, _)| *m == in_method && *pc == at.pc)?;
        assert_eq!(
            &self.selector(&at),
            selector,
            "the site sends another selector"
        );
        let k = self.methods.iter().position(|m| &m.selector == selector)?;
        let m = &self.methods[k];
        assert_eq!(m.arg_count, at.arity, "{selector}: arity");
        let name = format!("Test>>{selector}");
        let src = Source {
            name: &name,
            bytecodes: &m.bytecodes,
            arg_count: m.arg_count as u8,
            temp_count: m.temp_size as u8,
        };
        let callee = translate(&src, Kind::Method).unwrap_or_else(|e| panic!("{name}: {e}"));
        let literals = m
            .literals
            .iter()
            .enumerate()
            .map(|(i, l)| match l {
                lst_compiler::LiteralValue::Constant(c) => Some(Constant {
                    kind: ConstKind::Object,
                    name: format!("{c:?}"),
                    handle: 1000 * (k as u32 + 1) + i as u32,
                }),
                _ => None,
            })
            .collect();
        Some(Candidate {
            class: Constant {
                kind: ConstKind::Class,
                name: "Test".into(),
                handle: 1,
            },
            method: Constant {
                kind: ConstKind::Method,
                name,
                handle: METHOD_HANDLES + k as u32,
            },
            callee,
            instance_size: self.instance_size,
            literals,
        })
    }
}

/// What an inlining test's `;` lines say besides the common ones.
#[derive(Default)]
struct InlineHeader {
    offers: Vec<(Option<String>, u16, String)>,
    slow: Vec<(Option<String>, u16)>,
    ivars: Vec<String>,
    instance_size: Option<usize>,
    depth: Option<usize>,
    callee_insts: Option<usize>,
    inlined: Option<usize>,
    refused: Vec<(u16, String)>,
}

impl InlineHeader {
    fn of(source: &str) -> InlineHeader {
        let mut h = InlineHeader::default();
        for line in source.lines().map(str::trim) {
            let Some((key, rest)) = line.strip_prefix(';').and_then(|l| l.split_once(':')) else {
                continue;
            };
            let rest = rest.trim();
            let selector = |w: &str| w.strip_prefix("Test>>").expect("Test>>sel").to_string();
            let pc = |w: &str| w.trim_start_matches('@').parse::<u16>().expect("a pc");
            match key.trim() {
                "inline" => {
                    let w: Vec<&str> = rest.split_whitespace().collect();
                    h.offers.push(match w.as_slice() {
                        [at, callee] => (None, pc(at), selector(callee)),
                        [outer, at, callee] => (Some(selector(outer)), pc(at), selector(callee)),
                        _ => panic!("`; inline: [Test>>outer] @PC Test>>sel`"),
                    });
                }
                "slow" => {
                    let w: Vec<&str> = rest.split_whitespace().collect();
                    h.slow.push(match w.as_slice() {
                        [at] => (None, pc(at)),
                        [outer, at] => (Some(selector(outer)), pc(at)),
                        _ => panic!("`; slow: [Test>>outer] @PC`"),
                    });
                }
                "ivars" => h.ivars = rest.split_whitespace().map(String::from).collect(),
                "instance_size" => h.instance_size = Some(rest.parse().expect("a size")),
                "depth" => h.depth = Some(rest.parse().expect("a depth")),
                "callee_insts" => h.callee_insts = Some(rest.parse().expect("a size")),
                "inlined" => h.inlined = Some(rest.parse().expect("a count")),
                "refused" => {
                    let (at, why) = rest.split_once(' ').expect("`; refused: PC REASON`");
                    h.refused.push((pc(at), why.trim().to_string()));
                }
                _ => {}
            }
        }
        h
    }
}

/// Runs one inlining test's passes: the caller's IR after inlining, and
/// its text after the region pass, the lowering and fold.
fn inlined(
    code: &str,
    header: &Header,
    ih: &InlineHeader,
) -> (String, String, lst_jit::inline::InlineStats) {
    let ivars = if ih.ivars.is_empty() {
        vec!["x".to_string(), "y".to_string()]
    } else {
        ih.ivars.clone()
    };
    let methods: Vec<lst_compiler::CompiledMethod> = code
        .split("\n!\n")
        .map(|s| lst_compiler::compile_method(s, &ivars).unwrap_or_else(|d| panic!("{d:?}")))
        .collect();
    let m = &methods[0];
    let name = format!("Test>>{}", m.selector);
    let src = Source {
        name: &name,
        bytecodes: &m.bytecodes,
        arg_count: m.arg_count as u8,
        temp_count: m.temp_size as u8,
    };
    let mut f = translate(&src, Kind::Method).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (ops, float_ops) = (
        literal_ops(m, Receiver::SmallInt),
        literal_ops(m, Receiver::Float),
    );
    let quick: Vec<bool> = m
        .literals
        .iter()
        .map(|l| matches!(l, lst_compiler::LiteralValue::Selector(s) if header.quick.contains(s)))
        .collect();
    let mut oracle = TestOracle {
        methods: methods.clone(),
        offers: ih.offers.clone(),
        slow: ih.slow.clone(),
        instance_size: ih.instance_size.unwrap_or(ivars.len()),
    };
    let default = Budget::default();
    let budget = Budget {
        max_depth: ih.depth.unwrap_or(default.max_depth),
        callee_insts: ih.callee_insts.unwrap_or(default.callee_insts),
        ..default
    };
    let stats = lst_jit::inline::inline(&mut f, &mut oracle, budget);
    verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
    let text = f.to_string();
    let facts = semantic::Facts {
        literal_ops: &ops,
        float_ops: &float_ops,
        object_ops: &[],
        quick: &quick,
        not_float: &header.not_float,
    };
    semantic::region::unbox(&mut f, &facts);
    verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
    semantic::lower(&mut f, &facts);
    verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
    lst_jit::fold::fold(&mut f);
    verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
    (text, f.to_string(), stats)
}

#[test]
fn inline_filetests() {
    let bless = std::env::var_os("LST_BLESS").is_some();
    for path in files("inline", "test") {
        let text = std::fs::read_to_string(&path).unwrap();
        let (source, expected) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
        let (header, ih) = (Header::of(source), InlineHeader::of(source));
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .map(|l| format!("{l}\n"))
            .collect();
        let (actual, lowered, stats) = inlined(&code, &header, &ih);
        let p = path.display();
        if let Some(n) = ih.inlined {
            assert_eq!(stats.inlined, n, "{p}: inlined ({stats:?})");
        }
        for (pc, why) in &ih.refused {
            assert!(
                stats
                    .refused
                    .iter()
                    .any(|(at, r)| at == pc && r.name() == why),
                "{p}: the send at {pc} is not refused for {why:?}: {stats:?}"
            );
        }
        for name in &header.fires {
            assert!(
                has_instruction(&lowered, name),
                "{p}: no `{name}`:\n{lowered}"
            );
        }
        for name in &header.absent {
            assert!(
                !has_instruction(&lowered, name),
                "{p}: `{name}`:\n{lowered}"
            );
        }
        for (name, n) in &header.count {
            let have = count_instruction(&lowered, name);
            assert_eq!(have, *n, "{p}: {have} `{name}`:\n{lowered}");
        }
        if bless {
            std::fs::write(&path, format!("{source}\n---\n{actual}")).unwrap();
        } else {
            assert_eq!(actual.trim(), expected.trim(), "{p}");
        }
    }
}
