//! Decoding and verifying a method's bytecodes once, into the pre-decoded
//! [`Steps`] the interpreter's loop runs.
//!
//! Verification proves, for every instruction reachable from the method's
//! start or from a block body: the opcode is known; temporary and literal
//! indexes are in range; constants and special selectors exist; jump
//! targets and block ends are instruction starts inside the code; execution
//! never runs past the end; and the operand stack never underflows. The
//! last is proved with the smallest operand depth any path reaches at each
//! instruction ([`Step::depth`]); a frame entered anywhere but at the start
//! (a return, a resumed context, a block body) is checked against it, so the
//! loop itself pops without checking.
//!
//! The steps are indexed by bytecode offset, so the interpreter's `pc` stays
//! a bytecode offset wherever it is visible (frames, contexts, the JIT).
//! Offsets that are not instruction starts hold [`Kind::Invalid`], as does
//! the slot just past the end. This module knows nothing of the heap.

use lst_bytecode::{BINARY_SPECIALS, Insn, Op, UNARY_SPECIALS, decode_at};

/// What a pre-decoded step does. Mostly [`Op`]s, with the operand decided
/// where that saves the loop a test (`pushConstant`, `sendUnary`) and
/// `markArguments n; sendMessage` fused into one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not an instruction start (or past the end): entering here is an error.
    Invalid,
    PushInstance,
    PushArgument,
    PushTemporary,
    PushLiteral,
    /// `pushConstant 0…9`: the SmallInt `arg`.
    PushSmall,
    PushNil,
    PushTrue,
    PushFalse,
    AssignInstance,
    AssignTemporary,
    /// `markArguments n` not followed by a send: builds the Array.
    MarkArguments,
    /// `markArguments arg; sendMessage extra`: a send of `arg` values.
    Send,
    /// `markArguments arg; sendToSuper extra`.
    SendSuper,
    /// `sendMessage arg` with its arguments in an Array on the stack.
    SendArray,
    /// `sendToSuper extra` with its arguments in an Array on the stack.
    SendSuperArray,
    IsNil,
    NotNil,
    SendBinary,
    PushBlock,
    DoPrimitive,
    SelfReturn,
    StackReturn,
    BlockReturn,
    Duplicate,
    PopTop,
    Branch,
    BranchIfTrue,
    BranchIfFalse,
    /// `pushArgument arg; pushConstant c; sendBinary k` (`extra` is
    /// `k | c << 8`): the special selector on an argument and a small
    /// constant, as in `n - 1` or `i < 10`.
    ArgumentConstantBinary,
    /// `pushTemporary arg; pushConstant c; sendBinary k`, likewise.
    TemporaryConstantBinary,
    /// Two pushes of an argument or temporary, then `sendBinary k`: the
    /// first push's index is `arg`; `extra` packs the second's index (bits
    /// 0–7), `k` (8–11) and whether each push is of a temporary (bit 12
    /// the first, 13 the second).
    PushPushBinary,
    /// `assignTemporary arg; popTop`.
    PopIntoTemporary,
    /// The binary steps above during a method's first runs (see
    /// [`super::profile`]): each records its operands' classes as type
    /// feedback, then runs as the step it stands for ([`Kind::unprofiled`]).
    ProfileSendBinary,
    ProfileArgumentConstantBinary,
    ProfileTemporaryConstantBinary,
    ProfilePushPushBinary,
}

impl Kind {
    /// The profiling kind that stands for `self` (itself if it does not
    /// send a special binary selector).
    pub(crate) fn profiled(self) -> Kind {
        match self {
            Kind::SendBinary => Kind::ProfileSendBinary,
            Kind::ArgumentConstantBinary => Kind::ProfileArgumentConstantBinary,
            Kind::TemporaryConstantBinary => Kind::ProfileTemporaryConstantBinary,
            Kind::PushPushBinary => Kind::ProfilePushPushBinary,
            k => k,
        }
    }

    /// The kind a profiling kind stands for (itself if it is not one).
    pub(crate) fn unprofiled(self) -> Kind {
        match self {
            Kind::ProfileSendBinary => Kind::SendBinary,
            Kind::ProfileArgumentConstantBinary => Kind::ArgumentConstantBinary,
            Kind::ProfileTemporaryConstantBinary => Kind::TemporaryConstantBinary,
            Kind::ProfilePushPushBinary => Kind::PushPushBinary,
            k => k,
        }
    }
}

/// `steps` with every binary step of kind `kind(step.kind)`.
pub(crate) fn with_kinds(steps: &[Step], kind: fn(Kind) -> Kind) -> Steps {
    steps
        .iter()
        .map(|s| Step {
            kind: kind(s.kind),
            ..*s
        })
        .collect()
}

/// [`Kind::PushPushBinary`]'s flag: the first push is of a temporary.
pub(crate) const FIRST_IS_TEMPORARY: u16 = 1 << 12;
/// [`Kind::PushPushBinary`]'s flag: the second push is of a temporary.
pub(crate) const SECOND_IS_TEMPORARY: u16 = 1 << 13;

/// One pre-decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub kind: Kind,
    /// The instruction's argument (index, count, special number).
    pub arg: u8,
    /// The extra operand: jump target, block end, primitive number or
    /// selector literal index.
    pub extra: u16,
    /// The offset of the next instruction.
    pub next: u16,
    /// The smallest operand-stack depth on any path reaching this step.
    pub depth: u16,
}

const INVALID: Step = Step {
    kind: Kind::Invalid,
    arg: 0,
    extra: 0,
    next: 0,
    depth: 0,
};

/// A method's verified steps, indexed by bytecode offset (one more than
/// the code's length: the last is [`Kind::Invalid`]).
pub(crate) type Steps = Box<[Step]>;

/// What verification checks operands against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The method's temporary count, if it declares one (LLST's boot
    /// method does not).
    pub temps: Option<usize>,
    /// The size of the method's literal Array.
    pub literals: usize,
}

/// Why a method's bytecodes cannot run: the offset and the cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    pub at: usize,
    pub cause: String,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at offset {}: {}", self.at, self.cause)
    }
}

fn refuse<T>(at: usize, cause: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError {
        at,
        cause: cause.into(),
    })
}

/// Decodes and verifies `code`.
pub(crate) fn verify(code: &[u8], limits: Limits) -> Result<Steps, VerifyError> {
    if code.len() >= u16::MAX as usize {
        return refuse(0, format!("{} bytes of code is too long", code.len()));
    }
    let insns = decode_reachable(code)?;
    let mut steps = vec![INVALID; code.len() + 1].into_boxed_slice();
    for (at, insn) in insns
        .iter()
        .enumerate()
        .filter_map(|(at, i)| Some((at, i.as_ref()?)))
    {
        steps[at] = step_of(code, &insns, at, insn, limits)?;
    }
    Depths::new(&mut steps).run()?;
    for step in steps.iter_mut().filter(|s| s.depth == UNREACHED) {
        *step = INVALID;
    }
    fuse(&mut steps);
    Ok(steps)
}

/// Every instruction reachable from offset 0 (and from the block bodies
/// it creates), by its offset. Bytes no path reaches are not decoded (LLST's
/// own compiler leaves zeros after the code); an offset inside another
/// reachable instruction is refused.
fn decode_reachable(code: &[u8]) -> Result<Vec<Option<Insn>>, VerifyError> {
    let mut insns: Vec<Option<Insn>> = vec![None; code.len()];
    let mut work = vec![(0usize, 0usize)];
    while let Some((from, at)) = work.pop() {
        if at >= code.len() {
            return refuse(from, "execution runs past the end of the code");
        }
        if insns[at].is_some() {
            continue;
        }
        let insn = decode_at(code, at).map_err(|e| VerifyError {
            at,
            cause: format!("bad bytecode: {e}"),
        })?;
        insns[at] = Some(insn);
        let next = at + insn.len as usize;
        let target = insn.extra as usize;
        match insn.op {
            Op::SelfReturn | Op::StackReturn | Op::BlockReturn => {}
            Op::Branch => work.push((at, target)),
            Op::BranchIfTrue | Op::BranchIfFalse | Op::PushBlock => {
                work.push((at, next));
                work.push((at, target));
            }
            _ => work.push((at, next)),
        }
    }
    // Starts in increasing order: one inside the previous one's bytes overlaps it.
    let (mut previous, mut end) = (0, 0);
    for (at, insn) in insns.iter().enumerate() {
        let Some(insn) = insn else { continue };
        if at < end {
            return refuse(
                at,
                format!("execution enters the middle of the instruction at {previous}"),
            );
        }
        (previous, end) = (at, at + insn.len as usize);
    }
    Ok(insns)
}

/// The step for `insn` at `at`, its operands checked.
fn step_of(
    code: &[u8],
    insns: &[Option<Insn>],
    at: usize,
    insn: &Insn,
    limits: Limits,
) -> Result<Step, VerifyError> {
    let next = at + insn.len as usize;
    let mut step = Step {
        kind: Kind::Invalid,
        arg: insn.arg,
        extra: insn.extra,
        next: next as u16,
        depth: UNREACHED,
    };
    let arg = insn.arg as usize;
    let literal = |i: usize| {
        if i < limits.literals {
            Ok(())
        } else {
            refuse(
                at,
                format!(
                    "literal index {i} out of range ({} literals)",
                    limits.literals
                ),
            )
        }
    };
    let is_start = |t: usize| t == code.len() || insns.get(t).is_some_and(Option::is_some);
    step.kind = match insn.op {
        Op::PushInstance => Kind::PushInstance,
        Op::PushArgument => Kind::PushArgument,
        Op::PushTemporary | Op::AssignTemporary => {
            if let Some(n) = limits.temps.filter(|&n| arg >= n) {
                return refuse(
                    at,
                    format!("temporary index {arg} out of range ({n} temporaries)"),
                );
            }
            if insn.op == Op::PushTemporary {
                Kind::PushTemporary
            } else {
                Kind::AssignTemporary
            }
        }
        Op::PushLiteral => {
            literal(arg)?;
            Kind::PushLiteral
        }
        Op::PushConstant => match arg {
            0..=9 => Kind::PushSmall,
            10 => Kind::PushNil,
            11 => Kind::PushTrue,
            12 => Kind::PushFalse,
            _ => return refuse(at, format!("pushConstant {arg} names no constant")),
        },
        Op::AssignInstance => Kind::AssignInstance,
        Op::MarkArguments => match insns.get(next).copied().flatten() {
            Some(send) if arg > 0 && send.op == Op::SendMessage => {
                literal(send.arg as usize)?;
                step.extra = u16::from(send.arg);
                step.next = (next + send.len as usize) as u16;
                Kind::Send
            }
            Some(send) if arg > 0 && send.op == Op::SendToSuper => {
                literal(send.extra as usize)?;
                step.extra = send.extra;
                step.next = (next + send.len as usize) as u16;
                Kind::SendSuper
            }
            _ => Kind::MarkArguments,
        },
        Op::SendMessage => {
            literal(arg)?;
            Kind::SendArray
        }
        Op::SendToSuper => {
            literal(insn.extra as usize)?;
            Kind::SendSuperArray
        }
        Op::SendUnary => match arg {
            0 => Kind::IsNil,
            1 => Kind::NotNil,
            _ => {
                return refuse(
                    at,
                    format!(
                        "sendUnary {arg} names no selector (0…{})",
                        UNARY_SPECIALS.len() - 1
                    ),
                );
            }
        },
        Op::SendBinary if arg < BINARY_SPECIALS.len() => Kind::SendBinary,
        Op::SendBinary => {
            return refuse(
                at,
                format!(
                    "sendBinary {arg} names no selector (0…{})",
                    BINARY_SPECIALS.len() - 1
                ),
            );
        }
        Op::PushBlock => {
            let end = insn.extra as usize;
            if end <= next || !is_start(end) {
                return refuse(
                    at,
                    format!("pushBlock ends at {end}, not at an instruction after it"),
                );
            }
            Kind::PushBlock
        }
        Op::DoPrimitive => Kind::DoPrimitive,
        Op::SelfReturn => Kind::SelfReturn,
        Op::StackReturn => Kind::StackReturn,
        Op::BlockReturn => Kind::BlockReturn,
        Op::Duplicate => Kind::Duplicate,
        Op::PopTop => Kind::PopTop,
        Op::Branch | Op::BranchIfTrue | Op::BranchIfFalse => {
            let target = insn.extra as usize;
            if target >= code.len() || !is_start(target) {
                return refuse(
                    at,
                    format!("jump to {target}, which is not an instruction start"),
                );
            }
            match insn.op {
                Op::Branch => Kind::Branch,
                Op::BranchIfTrue => Kind::BranchIfTrue,
                _ => Kind::BranchIfFalse,
            }
        }
    };
    Ok(step)
}

/// Replaces the first step of each frequent sequence by one step doing
/// the whole sequence (a superinstruction). The later steps stay where
/// they are, for jumps to them; the fused step needs the depth its first
/// instruction needs, and leaves what the sequence leaves.
fn fuse(steps: &mut [Step]) {
    for at in 0..steps.len() {
        if let Some(fused) = fused_at(steps, at) {
            steps[at] = fused;
        }
    }
}

/// The superinstruction that may start at `at` (from the unfused steps
/// after it, which [`fuse`] has not replaced yet).
fn fused_at(steps: &[Step], at: usize) -> Option<Step> {
    let first = steps[at];
    let second = *steps.get(first.next as usize)?;
    let fused = |kind, arg, extra, next| {
        Some(Step {
            kind,
            arg,
            extra,
            next,
            depth: first.depth,
        })
    };
    let push_index = |s: Step| match s.kind {
        Kind::PushArgument => Some(0),
        Kind::PushTemporary => Some(1),
        _ => None,
    };
    match (first.kind, second.kind) {
        (Kind::AssignTemporary, Kind::PopTop) => {
            fused(Kind::PopIntoTemporary, first.arg, 0, second.next)
        }
        (Kind::PushArgument | Kind::PushTemporary, _) => {
            let third = *steps.get(second.next as usize)?;
            if third.kind != Kind::SendBinary {
                return None;
            }
            let k = u16::from(third.arg);
            if second.kind == Kind::PushSmall {
                let kind = match first.kind {
                    Kind::PushArgument => Kind::ArgumentConstantBinary,
                    _ => Kind::TemporaryConstantBinary,
                };
                return fused(kind, first.arg, k | u16::from(second.arg) << 8, third.next);
            }
            let flags =
                push_index(first)? * FIRST_IS_TEMPORARY + push_index(second)? * SECOND_IS_TEMPORARY;
            let extra = u16::from(second.arg) | k << 8 | flags;
            fused(Kind::PushPushBinary, first.arg, extra, third.next)
        }
        _ => None,
    }
}

/// The depth of a step no path has reached yet.
const UNREACHED: u16 = u16::MAX;

/// The smallest-depth dataflow over the steps: a worklist from the
/// method's start and every reachable block body (each entered with an
/// empty operand stack).
struct Depths<'a> {
    steps: &'a mut [Step],
    work: Vec<usize>,
}

impl<'a> Depths<'a> {
    fn new(steps: &'a mut [Step]) -> Depths<'a> {
        Depths {
            steps,
            work: vec![],
        }
    }

    fn run(mut self) -> Result<(), VerifyError> {
        self.reach(0, 0, 0)?;
        while let Some(at) = self.work.pop() {
            let step = self.steps[at];
            let (pops, pushes) = effect(step);
            let depth = step.depth as usize;
            if depth < pops {
                return refuse(
                    at,
                    format!("operand stack underflow ({pops} needed, {depth} there)"),
                );
            }
            let after = depth - pops + pushes;
            for (to, d) in successors(step, after) {
                self.reach(at, to, d)?;
            }
        }
        Ok(())
    }

    /// Flow reaches `to` (from `from`) with `depth` values.
    fn reach(&mut self, from: usize, to: usize, depth: usize) -> Result<(), VerifyError> {
        let last = self.steps.len() - 1;
        if to >= last {
            return refuse(from, "execution runs past the end of the code");
        }
        let step = &mut self.steps[to];
        if step.kind == Kind::Invalid {
            return refuse(
                from,
                format!("execution reaches {to}, which is not an instruction start"),
            );
        }
        if depth >= UNREACHED as usize {
            return refuse(from, "operand stack too deep");
        }
        if (depth as u16) < step.depth {
            step.depth = depth as u16;
            self.work.push(to);
        }
        Ok(())
    }
}

/// How many operand values a step pops and pushes.
fn effect(step: Step) -> (usize, usize) {
    match step.kind {
        Kind::Send | Kind::SendSuper => (step.arg as usize, 1),
        Kind::SendArray | Kind::SendSuperArray => (1, 1),
        _ => op_of(step.kind).map_or((0, 0), |op| op.stack_effect(step.arg)),
    }
}

/// The [`Op`] a step kind comes from (for its stack effect).
fn op_of(kind: Kind) -> Option<Op> {
    Some(match kind {
        Kind::Invalid => return None,
        Kind::PushInstance => Op::PushInstance,
        Kind::PushArgument => Op::PushArgument,
        Kind::PushTemporary => Op::PushTemporary,
        Kind::PushLiteral => Op::PushLiteral,
        Kind::PushSmall | Kind::PushNil | Kind::PushTrue | Kind::PushFalse => Op::PushConstant,
        Kind::AssignInstance => Op::AssignInstance,
        Kind::AssignTemporary => Op::AssignTemporary,
        Kind::MarkArguments => Op::MarkArguments,
        Kind::Send | Kind::SendArray => Op::SendMessage,
        Kind::SendSuper | Kind::SendSuperArray => Op::SendToSuper,
        Kind::IsNil | Kind::NotNil => Op::SendUnary,
        Kind::SendBinary | Kind::ProfileSendBinary => Op::SendBinary,
        Kind::PushBlock => Op::PushBlock,
        Kind::DoPrimitive => Op::DoPrimitive,
        Kind::SelfReturn => Op::SelfReturn,
        Kind::StackReturn => Op::StackReturn,
        Kind::BlockReturn => Op::BlockReturn,
        Kind::Duplicate => Op::Duplicate,
        Kind::PopTop => Op::PopTop,
        Kind::Branch => Op::Branch,
        Kind::BranchIfTrue => Op::BranchIfTrue,
        Kind::BranchIfFalse => Op::BranchIfFalse,
        // Made after the depths are known.
        Kind::ArgumentConstantBinary
        | Kind::TemporaryConstantBinary
        | Kind::PushPushBinary
        | Kind::PopIntoTemporary
        | Kind::ProfileArgumentConstantBinary
        | Kind::ProfileTemporaryConstantBinary
        | Kind::ProfilePushPushBinary => return None,
    })
}

/// Where control goes after a step, with the operand depth there.
fn successors(step: Step, after: usize) -> Vec<(usize, usize)> {
    let next = step.next as usize;
    let target = step.extra as usize;
    match step.kind {
        Kind::SelfReturn | Kind::StackReturn | Kind::BlockReturn | Kind::Invalid => vec![],
        Kind::Branch => vec![(target, after)],
        Kind::BranchIfTrue | Kind::BranchIfFalse => vec![(next, after), (target, after)],
        // The block's body starts after pushBlock with an empty stack; the
        // method goes on at the block's end.
        Kind::PushBlock => vec![(next, 0), (target, after)],
        _ => vec![(next, after)],
    }
}
