//! Speculative inlining at the optimizing level, the embedder's half:
//! the oracle that offers `lst_jit::inline` the methods type feedback
//! names, and what the compile driver keeps of its answers for the back
//! end (the heap values behind the IR's constants, the selectors the unit
//! depends on, the shape of each inlined method) and for `--jit-stats`.
//!
//! This module reads the heap and the feedback table without changing
//! them (no lookups that fill caches, no allocation) and generates no code.

use crate::lower::InlinedMethod;
use lst_bytecode::inline_ops::{InlineOp, Receiver};
use lst_bytecode::selector_arity;
use lst_jit::inline::{Budget, Candidate, InlineOracle, LiteralBlock, Site, inline};
use lst_jit::ir::{ConstKind, Constant, Function, Kind, Selector, Special};
use lst_jit::translate::{Source, translate};
use lst_vm::layout;
use lst_vm::roots::{BINARY_SPECIAL_ROOTS, Root};
use lst_vm::value::Value;
use lst_vm::vm::Vm;

/// What inlining made of a unit, for the back end and the statistics.
#[derive(Clone, Debug, Default)]
pub struct UnitInlining {
    /// The heap values behind the IR's constants, by handle: the unit's
    /// constant pool.
    pub constants: Vec<Value>,
    /// The selectors whose lookups the inlined sends assumed.
    pub selectors: Vec<Value>,
    /// The methods inlined, by constant handle (`None` for other
    /// constants).
    pub methods: Vec<Option<InlinedMethod>>,
    /// Sends inlined.
    pub inlined: u32,
    /// Why sends were not, one reason per send.
    pub refused: Vec<String>,
}

/// The oracle: a send is offered its method when its site's feedback
/// names exactly one receiver class (and is not megamorphic), that
/// class answers the selector with a method, and the unit's inlined code
/// did not exit too often there in an earlier compile; the method's IR is
/// translated as `read_unit` translates a unit, its literals become
/// constants. The pass itself refuses what it cannot inline.
pub struct FeedbackOracle<'v> {
    vm: &'v Vm,
    /// The method being compiled (the sites of `Site::method == None`).
    root: Value,
    pub out: UnitInlining,
}

impl<'v> FeedbackOracle<'v> {
    pub fn new(vm: &'v Vm, root: Value) -> FeedbackOracle<'v> {
        FeedbackOracle {
            vm,
            root,
            out: UnitInlining::default(),
        }
    }

    /// The handle of `value` in the pool, added if new.
    fn handle(&mut self, value: Value) -> u32 {
        let c = &mut self.out.constants;
        let at = c.iter().position(|&v| v == value).unwrap_or_else(|| {
            c.push(value);
            c.len() - 1
        });
        if self.out.methods.len() < c.len() {
            self.out.methods.resize(c.len(), None);
        }
        at as u32
    }

    fn constant(&mut self, kind: ConstKind, name: String, value: Value) -> Constant {
        Constant {
            kind,
            name,
            handle: self.handle(value),
        }
    }

    /// The method a site's send is in.
    fn site_method(&self, at: &Site) -> Option<Value> {
        match at.method_handle {
            None => Some(self.root),
            Some(h) => self.out.constants.get(h as usize).copied(),
        }
    }

    /// The selector a send of `method` names: a literal of it, or one of
    /// the VM's special selectors.
    fn selector(&self, method: Value, selector: Selector) -> Option<Value> {
        let n = match selector {
            Selector::Literal(n) => n,
            Selector::Special(s) => {
                let root = *BINARY_SPECIAL_ROOTS.get(s as usize)?;
                let v = self.vm.root(root);
                return (v != self.vm.nil()).then_some(v);
            }
        };
        let literals = self.vm.heap.get(method, layout::method::LITERALS)?;
        let s = self.vm.heap.get(literals, usize::from(n))?;
        (s.is_ref() && self.vm.heap.is_bytes(s)).then_some(s)
    }

    /// Whether a special send to an instance of `class` runs as an inline
    /// operation (the semantic lowering's SmallInt path, or its Float path
    /// where the selector has one) rather than as a send.
    fn served_inline(&self, special: Special, class: Value) -> bool {
        class == self.vm.root(Root::SmallIntClass)
            || (class == self.vm.root(Root::FloatClass)
                && InlineOp::of_selector(Receiver::Float, special.selector().as_bytes()).is_some())
    }

    /// `method`'s literals as constants (a SmallInt or any object).
    fn literals(&mut self, method: Value) -> Vec<Option<Constant>> {
        let heap = &self.vm.heap;
        let Some(literals) = heap.get(method, layout::method::LITERALS) else {
            return vec![];
        };
        if !literals.is_ref() || heap.is_bytes(literals) {
            return vec![];
        }
        let values: Vec<Value> = (0..heap.size(literals))
            .filter_map(|i| heap.get(literals, i))
            .collect();
        values
            .into_iter()
            .map(|v| {
                let name = self.vm.text_of(v);
                Some(self.constant(ConstKind::Object, name, v))
            })
            .collect()
    }
}

impl InlineOracle for FeedbackOracle<'_> {
    /// Yes unless the site's feedback saw a receiver other than a
    /// SmallInt (or a Float, where the selector has a Float operation),
    /// or too many classes. A site never observed keeps the optimistic
    /// answer: the interpreter records only sends its own fast paths did
    /// not serve.
    fn fast_special(&mut self, at: &Site) -> bool {
        let Selector::Special(special) = at.selector else {
            return false;
        };
        let Some(method) = self.site_method(at) else {
            return false;
        };
        let feedback = self.vm.send_feedback(method);
        let Some(site) = feedback.sites.iter().find(|s| s.pc == at.pc) else {
            return true;
        };
        !site.megamorphic && site.classes.iter().all(|&c| self.served_inline(special, c))
    }

    /// Yes when Block answers the send's selector with a method that
    /// activates the block with the send's arguments, as the
    /// interpreter's send does without a frame for it (`<invokeBlock
    /// arg1 … argN self>`, the image's `Block>>value…`); the selector
    /// joins the unit's dependencies, so that redefining it invalidates
    /// the unit.
    fn activates_block(&mut self, at: &Site) -> bool {
        let Some(method) = self.site_method(at) else {
            return false;
        };
        let Some(selector) = self.selector(method, at.selector) else {
            return false;
        };
        let block_class = self.vm.root(Root::BlockClass);
        let Some(found) = self.vm.find_method(selector, block_class) else {
            return false;
        };
        let activates =
            method_shape(self.vm, found).is_some_and(|m| invokes_block(&m.bytecodes, at.arity));
        if activates && !self.out.selectors.contains(&selector) {
            self.out.selectors.push(selector);
        }
        activates
    }

    /// The root's block whose body starts at `body`: its IR translated as
    /// a block body unit is, its arity from the method's block arities.
    fn literal_block(&mut self, body: u16) -> Option<LiteralBlock> {
        let root = self.root;
        let shape = method_shape(self.vm, root)?;
        let arity = block_arity(self.vm, root, body)?;
        let name = self.vm.method_name(root);
        let src = Source {
            name: &name,
            bytecodes: &shape.bytecodes,
            arg_count: u8::try_from(shape.arg_count).ok()?,
            temp_count: u8::try_from(shape.temp_count).ok()?,
        };
        let ir = translate(&src, Kind::BlockBody { start: body }).ok()?;
        let home = self.constant(ConstKind::Block, name, root);
        self.out.methods[home.handle as usize] = Some(shape);
        Some(LiteralBlock {
            home,
            body: ir,
            arity,
        })
    }

    fn candidate(&mut self, at: Site) -> Option<Candidate> {
        // Where an earlier compile's inlined code exited too often, the
        // send stays a send.
        if at.method_handle.is_none() && self.vm.sends_not_to_inline().contains(&at.pc) {
            return None;
        }
        let method = self.site_method(&at)?;
        let feedback = self.vm.send_feedback(method);
        let site = feedback.sites.iter().find(|s| s.pc == at.pc)?;
        let [class] = site.classes[..] else {
            return None;
        };
        if site.megamorphic {
            return None;
        }
        // A special send to a SmallInt (or a Float, where the selector has
        // a Float operation) gets its inline operation from the semantic
        // lowering, which beats any method body the image has for it.
        if let Selector::Special(special) = at.selector
            && self.served_inline(special, class)
        {
            return None;
        }
        let selector = self.selector(method, at.selector)?;
        let callee = self.vm.find_method(selector, class)?;
        let shape = method_shape(self.vm, callee)?;
        let name = self.vm.method_name(callee);
        let src = Source {
            name: &name,
            bytecodes: &shape.bytecodes,
            arg_count: u8::try_from(shape.arg_count).ok()?,
            temp_count: u8::try_from(shape.temp_count).ok()?,
        };
        let ir = translate(&src, Kind::Method).ok()?;
        let instance_size = self
            .vm
            .heap
            .get(class, layout::class::INSTANCE_SIZE)
            .and_then(Value::as_usize)?;
        let class_name = self.vm.class_name(class);
        let class = self.constant(ConstKind::Class, class_name, class);
        let method = self.constant(ConstKind::Method, name, callee);
        self.out.methods[method.handle as usize] = Some(shape);
        if !self.out.selectors.contains(&selector) {
            self.out.selectors.push(selector);
        }
        let literals = self.literals(callee);
        Some(Candidate {
            class,
            method,
            callee: ir,
            instance_size,
            literals,
        })
    }
}

/// Whether `code` starts with the block-activating primitive on the
/// method's `arity` arguments in order, then the receiver (the prologue
/// the interpreter's send runs without a frame).
fn invokes_block(code: &[u8], arity: usize) -> bool {
    let Some(invoke) = lst_vm::prims::number_of("invokeBlock") else {
        return false;
    };
    let want: Vec<u8> = (1..=arity)
        .filter_map(|i| u8::try_from(i).ok())
        .chain([0])
        .collect();
    let (mut pc, mut pushed) = (0, vec![]);
    while let Ok(insn) = lst_bytecode::decode_at(code, pc) {
        match insn.op {
            lst_bytecode::Op::PushArgument => pushed.push(insn.arg),
            lst_bytecode::Op::DoPrimitive => {
                return insn.extra == u16::from(invoke)
                    && usize::from(insn.arg) == pushed.len()
                    && pushed == want;
            }
            _ => return false,
        }
        pc += usize::from(insn.len);
    }
    false
}

/// The arity of `method`'s block whose body starts at `body`, from its
/// block arities (pairs of body offset and arity).
fn block_arity(vm: &Vm, method: Value, body: u16) -> Option<usize> {
    let heap = &vm.heap;
    let arities = heap.get(method, layout::method::BLOCK_ARITIES)?;
    if !arities.is_ref() || heap.is_bytes(arities) {
        return None;
    }
    heap.slots(arities)
        .chunks_exact(2)
        .find(|pair| pair[0].as_usize() == Some(usize::from(body)))
        .and_then(|pair| pair[1].as_usize())
}

/// What the back end must know of a method to materialize its frame:
/// bytecodes, arguments, temporaries (`None`: malformed).
fn method_shape(vm: &Vm, m: Value) -> Option<InlinedMethod> {
    let heap = &vm.heap;
    let code = heap.get(m, layout::method::BYTECODES)?;
    let selector = heap.get(m, layout::method::NAME)?;
    if !code.is_ref() || !heap.is_bytes(code) || !selector.is_ref() || !heap.is_bytes(selector) {
        return None;
    }
    let arity = selector_arity(heap.bytes(selector))?;
    let temps = heap.get(m, layout::method::TEMPORARY_SIZE)?;
    let temps = if temps == vm.nil() {
        0
    } else {
        temps.as_usize()?
    };
    Some(InlinedMethod {
        bytecodes: heap.bytes(code).to_vec(),
        arg_count: u16::try_from(arity).ok()?,
        temp_count: u16::try_from(temps).ok()?,
    })
}

/// Runs `lst_jit::inline` on `ir`, the unit of `method`, with the
/// feedback oracle; what it made of the unit.
pub fn inline_unit(vm: &Vm, method: Value, ir: &mut Function) -> UnitInlining {
    let mut oracle = FeedbackOracle::new(vm, method);
    let stats = inline(ir, &mut oracle, Budget::default());
    let mut out = oracle.out;
    // Inlined block activations count as the sends they were.
    out.inlined = u32::try_from(stats.inlined).unwrap_or(u32::MAX);
    out.refused = stats
        .refused
        .iter()
        .map(|(_, why)| why.name().to_string())
        .collect();
    out
}
