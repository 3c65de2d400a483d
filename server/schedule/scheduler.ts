/**
 * The scheduling core: places booking requests into rooms and times, plans a whole day, and keeps a
 * schedule valid through cancel, move, no-show and overrun. Pure: no I/O, no clock, no randomness;
 * the same calls on the same input give the same result.
 *
 * Times are an explicit date plus minutes since local midnight (see model.ts), half-open intervals.
 *
 * Rules a booking satisfies (checked in this order, giving the reason code of a refusal):
 * 1. `no_room_of_kind`: some active room of a kind the session kind allows (site.roomKinds), or the
 *    pinned room if the request pins one, and that room is active and of an allowed kind;
 * 2. `outside_window`: its room slot `[start - escort, end + changeover)` lies inside one working window;
 * 3. `lawyer_not_on_duty`: a `duty` lawyer is on duty (one roster shift covers the session); a request
 *    that names no lawyer gets a free on-duty duty lawyer, the least loaded that day, then by id;
 * 4. `detainee_busy`, `prosecutor_busy`, `lawyer_busy`: nobody is in two places (detainee span includes
 *    the escort buffers; prosecutor and lawyer are held for the session itself);
 * 5. `reserved`, `room_busy`: the room slot overlaps no reserved window of a higher class than the
 *    request's and no other room slot of the room (`reserved` when a room would be free but for a
 *    reservation).
 *
 * Room choice: `place` takes a free room of the most preferred kind (site.roomKinds order), among
 * those the one that leaves the fewest unusable gaps, then site order; a pinned room if pinned.
 *
 * Starts: `place` books at exactly the requested whole minute. Alternatives and planning offer room
 * slots that begin on the site's grid (`slotMinutes`, counted from midnight) or that sit right
 * against another room slot or reserved time in that room, so rooms are packed without gaps: a
 * 12-minute session with a 3-minute escort has room slots 09:00–09:15, 09:15–09:30, … (sessions at
 * 09:03, 09:18, …), eight per two-hour block.
 */
import {
  PRIORITY_RANK,
  type Booking,
  type BookingId,
  type BookingRequest,
  type IsoDate,
  type Minute,
  type Placement,
  type RejectReason,
  type Room,
  type RoomKind,
  type Site,
  type TimeRange,
} from './model.js';
import { MINUTES_PER_DAY, MinuteSet, assertIsoDate, isoWeekday, windowContaining, windowsOn } from './windows.js';

export type PlaceResult =
  | { readonly ok: true; readonly booking: Booking }
  | { readonly ok: false; readonly reason: RejectReason; readonly alternatives: readonly Placement[] };

export type MoveResult =
  | { readonly ok: true; readonly booking: Booking; readonly before: Placement }
  | { readonly ok: false; readonly reason: RejectReason; readonly alternatives: readonly Placement[] };

/** Where a booking is to go; without `roomId` any allowed room (its current room first). */
export interface MoveTarget {
  readonly start: Minute;
  readonly roomId?: string;
  readonly date?: IsoDate;
}

/** One booking that an overrun changed, for notifying its parties. */
export interface BookingChange {
  readonly bookingId: BookingId;
  readonly before: Placement;
  readonly after: Placement;
}

export interface OverrunResult {
  /** The overrunning booking with its new end. */
  readonly booking: Booking;
  /** Bookings moved later or to another room (or given another duty lawyer). */
  readonly changed: readonly BookingChange[];
  /** Bookings that no longer fit anywhere that day: now status `displaced`, holding nothing; lowest class first. */
  readonly unplaceable: readonly Booking[];
  /** Bookings of a lower class moved aside (they did not clash) to keep a higher-class one at or near its time. */
  readonly movedAside: readonly BookingId[];
}

export interface UnplacedRequest {
  readonly request: BookingRequest;
  /** Why it could not go at its requested time (it fitted nowhere else either). */
  readonly reason: RejectReason;
}

export interface PlanResult {
  /** Bookings made by this plan, by date, start and room. */
  readonly placed: readonly Booking[];
  /** In the order of the input. */
  readonly unplaced: readonly UnplacedRequest[];
}

export interface DayPlan extends PlanResult {
  readonly schedule: Schedule;
}

/** The room slot: what the room is held for, `[start - escort, end + changeover)`. */
export function roomSlot(b: Booking): TimeRange {
  return { start: b.start - b.escortBeforeMin, end: b.end + b.changeoverAfterMin };
}

/** What the detainee is held for: escort in, session, escort back. */
export function detaineeSpan(b: Booking): TimeRange {
  return { start: b.start - b.escortBeforeMin, end: b.end + b.escortBeforeMin };
}

export function placementOf(b: Placement): Placement {
  return { date: b.date, roomId: b.roomId, start: b.start, end: b.end, lawyerId: b.lawyerId };
}

/**
 * Plans the requests into a new schedule of `site` (on top of `existing` bookings, which stay where
 * they are), to place as many as possible. Deterministic for a given input.
 *
 * - Classes are planned one after the other, `higher`, then `sibling`, then `district`, so where a
 *   request of one class goes never depends on requests of a lower class, and a lower class never
 *   takes anything a higher one could have had.
 * - Within a class: fewest allowed rooms first (pinned ones), then shortest room slot (more sessions
 *   fit), then a named lawyer before an open one, then requested start, then input order.
 * - Each request takes the feasible (start, room) of least score = minutes from its requested start
 *   + cost of the gaps it leaves in the room (4 per minute of a gap shorter than any room slot still
 *   to plan in its class; 1 per minute left over after whole median room slots), among the
 *   candidates described in the module notes; kind preference breaks ties.
 * - A repair pass then retries each request left over: where a single booking of its own class made
 *   by this plan is all that blocks a room, that booking is moved to its own best other place if it
 *   has one (bounded work). Requests still left over are reported with the reason at their
 *   requested start.
 */
export function planDay(requests: readonly BookingRequest[], site: Site, existing: readonly Booking[] = []): DayPlan {
  const schedule = new Schedule(site, existing);
  const result = schedule.plan(requests);
  return { schedule, placed: result.placed, unplaced: result.unplaced };
}

// ----- internals -----

/** Cost, in minutes of distance from the requested time, of one minute of unusable gap left in a room. */
const WASTE_COST = 4;
/** Share of WASTE_COST for a usable gap's remainder after whole typical room slots. */
const ALIGN_SHARE = 0.25;
const MAX_ALTERNATIVES = 3;
/** Candidate keys: `((distance * START_SPAN) + start) * ROOM_SPAN + roomCode`. */
const START_SPAN = 2048;
const ROOM_SPAN = 4096;

/** A request resolved against the site. */
interface Resolved {
  readonly req: BookingRequest;
  readonly rank: number;
  readonly escort: number;
  readonly changeover: number;
  readonly duration: number;
  /** escort + duration + changeover: how long the room is held. */
  readonly slotLen: number;
  /** Allowed active rooms (the pinned one only, if pinned), most preferred kind first, then site order. */
  readonly rooms: readonly Room[];
  readonly detaineeKey: string;
  readonly prosecutorKey: string;
  readonly order: number;
}

interface CheckOptions {
  /** Only this room. */
  readonly onlyRoom?: string | undefined;
  /** This room if it is free. */
  readonly preferRoom?: string;
  /** This duty lawyer if the request names none and they are free and on duty. */
  readonly preferLawyer?: string;
  /** Score rooms by the gaps they would leave beside them. */
  readonly packing?: Packing;
}

/**
 * How gaps left in a room are scored: a gap shorter than `minGap` (the shortest room slot still to
 * place) is lost entirely; of a longer one, what is left over after whole `unit`s (a typical room
 * slot still to place) is likely lost.
 */
interface Packing {
  readonly minGap: number;
  readonly unit: number;
}

function gapCost(gap: number, p: Packing): number {
  if (gap <= 0) return 0;
  if (gap < p.minGap) return gap * WASTE_COST;
  return (gap % p.unit) * WASTE_COST * ALIGN_SHARE;
}

type PeopleCheck = { readonly ok: true; readonly lawyerId: string } | { readonly ok: false; readonly reason: RejectReason };

type Check =
  | { readonly ok: true; readonly roomId: string; readonly lawyerId: string; readonly cost: number }
  | { readonly ok: false; readonly reason: RejectReason };

interface RoomState {
  readonly room: Room;
  /** Minutes held by room slots. */
  readonly busy: MinuteSet;
  /** Per rank, the minutes a request of that rank may not use (reserved for a higher class). */
  readonly reserved: readonly MinuteSet[];
  /** Booked bookings in this room. */
  readonly bookings: Set<BookingId>;
}

/** Everything held on one date. */
class Day {
  readonly windows: readonly TimeRange[];
  readonly rooms = new Map<string, RoomState>();
  readonly people = new Map<string, MinuteSet>();
  readonly shifts = new Map<string, TimeRange[]>();
  readonly dutyLawyers: readonly string[];
  readonly load = new Map<string, number>();
  readonly booked = new Set<BookingId>();

  constructor(site: Site, readonly date: IsoDate) {
    this.windows = windowsOn(site, date);
    const weekday = isoWeekday(date);
    for (const room of site.rooms) {
      const reserved = [new MinuteSet(), new MinuteSet(), new MinuteSet()];
      for (const w of site.reservedWindows) {
        if (w.date !== undefined ? w.date !== date : w.weekday !== undefined && w.weekday !== weekday) continue;
        if (w.roomId !== undefined ? w.roomId !== room.id : w.roomKind !== undefined && w.roomKind !== room.kind) continue;
        const from = Math.max(0, w.start);
        const to = Math.min(MINUTES_PER_DAY, w.end);
        for (let rank = 0; rank < PRIORITY_RANK[w.priorityClass]; rank++) reserved[rank]?.add(from, to);
      }
      this.rooms.set(room.id, { room, busy: new MinuteSet(), reserved, bookings: new Set() });
    }
    for (const s of site.dutyRoster) {
      if (s.date !== date) continue;
      const list = this.shifts.get(s.lawyerId) ?? [];
      list.push({ start: s.start, end: s.end });
      this.shifts.set(s.lawyerId, list);
    }
    this.dutyLawyers = [...this.shifts.keys()].sort();
  }

  person(key: string): MinuteSet {
    let set = this.people.get(key);
    if (set === undefined) {
      set = new MinuteSet();
      this.people.set(key, set);
    }
    return set;
  }

  isPersonFree(key: string, from: Minute, to: Minute): boolean {
    const set = this.people.get(key);
    return set === undefined || set.isFree(Math.max(0, from), Math.min(MINUTES_PER_DAY, to));
  }

  onDuty(lawyerId: string, from: Minute, to: Minute): boolean {
    const list = this.shifts.get(lawyerId);
    if (list === undefined) return false;
    for (const s of list) if (from >= s.start && to <= s.end) return true;
    return false;
  }
}

const detaineeKey = (id: string): string => `d:${id}`;
const prosecutorKey = (id: string): string => `p:${id}`;
const lawyerKey = (id: string): string => `l:${id}`;

function isWholeIn(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

function byTime(a: Placement, b: Placement): number {
  return a.date < b.date ? -1 : a.date > b.date ? 1 : a.start - b.start || (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0);
}

function overlaps(range: TimeRange, from: Minute, to: Minute): boolean {
  return range.start < to && from < range.end;
}

/** Do two bookings of one date need a room or a person at the same time? */
export function clash(a: Booking, b: Booking): boolean {
  if (a.date !== b.date || a.id === b.id) return false;
  const slotB = roomSlot(b);
  const detB = detaineeSpan(b);
  return (
    (a.roomId === b.roomId && overlaps(roomSlot(a), slotB.start, slotB.end)) ||
    (a.request.detaineeId === b.request.detaineeId && overlaps(detaineeSpan(a), detB.start, detB.end)) ||
    ((a.request.prosecutorId === b.request.prosecutorId || a.lawyerId === b.lawyerId) && overlaps(a, b.start, b.end))
  );
}

/**
 * The bookings of a site and everything they hold, with per-resource minute bitsets for each date.
 * Construct it from the site and the bookings already made (e.g. loaded from the database).
 */
export class Schedule {
  readonly site: Site;
  private readonly byId = new Map<BookingId, Booking>();
  private readonly days = new Map<IsoDate, Day>();
  private readonly roomById = new Map<string, Room>();
  private seq = 1;

  constructor(site: Site, bookings: readonly Booking[] = []) {
    if (!isWholeIn(site.slotMinutes, 1, 240)) throw new RangeError('slotMinutes must be a whole number 1..240');
    if (!isWholeIn(site.defaultEscortBeforeMin, 0, 240) || !isWholeIn(site.defaultChangeoverAfterMin, 0, 240)) {
      throw new RangeError('default buffers must be whole minutes 0..240');
    }
    if (site.rooms.length >= ROOM_SPAN) throw new RangeError(`at most ${ROOM_SPAN - 1} rooms`);
    for (const room of site.rooms) {
      if (this.roomById.has(room.id)) throw new RangeError(`duplicate room id ${room.id}`);
      this.roomById.set(room.id, room);
    }
    this.site = site;
    for (const b of bookings) {
      if (this.byId.has(b.id)) throw new RangeError(`duplicate booking id ${b.id}`);
      const m = /^bk-(\d+)$/.exec(b.id);
      if (m !== null) this.seq = Math.max(this.seq, Number(m[1]) + 1);
      if (b.status === 'booked') {
        if (!this.roomById.has(b.roomId)) throw new RangeError(`booking ${b.id}: unknown room ${b.roomId}`);
        if (this.clashesWithHeld(b)) throw new RangeError(`booking ${b.id} clashes with another booking`);
        this.hold(b);
      }
      this.byId.set(b.id, b);
    }
  }

  /** All bookings (any status), by date, start and room; of one date if given. */
  bookings(date?: IsoDate): Booking[] {
    const all = [...this.byId.values()];
    return (date === undefined ? all : all.filter((b) => b.date === date)).sort(byTime);
  }

  get(id: BookingId): Booking | undefined {
    return this.byId.get(id);
  }

  /**
   * Books the request at its requested start (in its pinned room, else the best allowed room), or
   * says why not and offers up to three other starts that day, nearest the requested one first.
   */
  place(request: BookingRequest): PlaceResult {
    const r = this.resolve(request, 0, true);
    const day = this.day(r.req.date);
    const fit = this.check(day, r, r.req.requestedStart, { packing: { minGap: r.slotLen, unit: r.slotLen } });
    if (fit.ok) return { ok: true, booking: this.commit(r, r.req.requestedStart, fit) };
    return { ok: false, reason: fit.reason, alternatives: this.alternatives(day, r, r.req.requestedStart, {}) };
  }

  /**
   * Moves a booked (or displaced) booking to a new start, room or date, validated like `place`
   * (the booking's own old slot counts as free). Keeps its lawyer; if the request named none, keeps
   * the picked duty lawyer when still free, else picks another.
   */
  move(id: BookingId, to: MoveTarget): MoveResult {
    const b = this.mustGet(id);
    if (b.status !== 'booked' && b.status !== 'displaced') throw new RangeError(`booking ${id} is ${b.status}`);
    const date = to.date ?? b.date;
    assertIsoDate(date);
    if (!isWholeIn(to.start, 0, MINUTES_PER_DAY)) throw new RangeError(`bad start ${to.start}`);
    if (to.roomId !== undefined && !this.roomById.has(to.roomId)) throw new RangeError(`unknown room ${to.roomId}`);
    const r = this.fromBooking(b, date);
    const day = this.day(date);
    if (b.status === 'booked') this.release(b);
    const opts: CheckOptions = { onlyRoom: to.roomId, preferRoom: b.roomId, preferLawyer: b.lawyerId };
    const fit = this.check(day, r, to.start, opts);
    if (fit.ok) {
      const moved: Booking = { ...b, date, roomId: fit.roomId, lawyerId: fit.lawyerId, start: to.start, end: to.start + r.duration, status: 'booked' };
      this.hold(moved);
      this.byId.set(id, moved);
      return { ok: true, booking: moved, before: placementOf(b) };
    }
    const alternatives = this.alternatives(day, r, to.start, opts);
    if (b.status === 'booked') this.hold(b);
    return { ok: false, reason: fit.reason, alternatives };
  }

  /** Cancels a booked or displaced booking, freeing what it held. */
  cancel(id: BookingId): Booking {
    const b = this.mustGet(id);
    if (b.status !== 'booked' && b.status !== 'displaced') throw new RangeError(`booking ${id} is ${b.status}`);
    return this.setStatus(b, 'cancelled');
  }

  /** Records that a party did not come: the booking no longer holds its room or its parties. */
  noShow(id: BookingId): Booking {
    const b = this.mustGet(id);
    if (b.status !== 'booked') throw new RangeError(`booking ${id} is ${b.status}`);
    return this.setStatus(b, 'no_show');
  }

  /**
   * A session runs (or ran) until `newEnd`. Its room, detainee, prosecutor and lawyer stay held
   * until then (whatever the window). Bookings that now clash are re-placed highest class first
   * (then earliest): each at the earliest start from its own that fits, looking at every minute left
   * in the day in every room it may use (its own room first, then kind preference), its own time
   * first. At each start, where only bookings of a lower class (and not `immovable`) stand in the
   * way, in the room or by their people, those are moved aside and re-placed the same way after
   * it; so a higher class is never pushed later, or displaced, while a lower class could yield.
   * What fits nowhere that day is displaced (returned as `unplaceable`), so displacement falls on
   * the lowest classes first.
   */
  overrun(id: BookingId, newEnd: Minute, options: { immovable?: ReadonlySet<BookingId> } = {}): OverrunResult {
    const b = this.mustGet(id);
    if (b.status !== 'booked') throw new RangeError(`booking ${id} is ${b.status}`);
    if (!isWholeIn(newEnd, b.start + 1, MINUTES_PER_DAY - Math.max(b.changeoverAfterMin, b.escortBeforeMin))) {
      throw new RangeError(`new end ${newEnd} must be after the start and within the day`);
    }
    // The overrunning booking itself never yields.
    const immovable = new Set<BookingId>([...(options.immovable ?? []), id]);
    const day = this.day(b.date);
    const updated: Booking = { ...b, end: newEnd };
    this.release(b);
    const clashing = [...day.booked].map((other) => this.mustGet(other)).filter((o) => clash(updated, o));
    for (const o of clashing) this.release(o);
    this.hold(updated);
    this.byId.set(id, updated);

    const original = new Map<BookingId, Booking>(clashing.map((o) => [o.id, o]));
    const movedAside = new Set<BookingId>();
    const queue: Booking[] = [...clashing];
    const order = (x: Booking, y: Booking): number =>
      PRIORITY_RANK[y.request.priorityClass] - PRIORITY_RANK[x.request.priorityClass] || x.start - y.start || (x.id < y.id ? -1 : 1);
    let budget = 64 + 8 * clashing.length;
    while (queue.length > 0) {
      queue.sort(order);
      const o = queue.shift() as Booking;
      const placed = this.replace(day, o, immovable, budget-- > 0);
      if (placed === undefined) {
        this.byId.set(o.id, { ...o, status: 'displaced' });
        continue;
      }
      this.hold(placed.booking);
      this.byId.set(o.id, placed.booking);
      for (const y of placed.yielded) {
        if (!original.has(y.id)) original.set(y.id, y);
        movedAside.add(y.id);
        queue.push(y);
      }
    }
    const changed: BookingChange[] = [];
    const unplaceable: Booking[] = [];
    for (const [oid, before] of original) {
      const now = this.mustGet(oid);
      if (now.status === 'displaced') unplaceable.push(now);
      else if (now.start !== before.start || now.roomId !== before.roomId || now.lawyerId !== before.lawyerId) {
        changed.push({ bookingId: oid, before: placementOf(before), after: placementOf(now) });
      }
    }
    const byRank = (x: Booking, y: Booking): number => PRIORITY_RANK[x.request.priorityClass] - PRIORITY_RANK[y.request.priorityClass] || x.start - y.start;
    return { booking: updated, changed, unplaceable: unplaceable.sort(byRank), movedAside: [...movedAside] };
  }

  /**
   * Re-places `o` (released, holding nothing): at the earliest start from its own, every minute, in
   * any room it may use, free or by moving lower-class bookings aside (released and returned as
   * `yielded`, for the caller to re-place). Undefined if it fits nowhere that day.
   */
  private replace(day: Day, o: Booking, immovable: ReadonlySet<BookingId>, mayYield: boolean): { booking: Booking; yielded: Booking[] } | undefined {
    const r = this.fromBooking(o, o.date);
    const opts: CheckOptions = { preferRoom: o.roomId, preferLawyer: o.lawyerId };
    for (let s = o.start; s + r.duration + r.changeover <= MINUTES_PER_DAY; s++) {
      const from = s - r.escort;
      if (from < 0 || windowContaining(day.windows, from, s + r.duration + r.changeover) === undefined) continue;
      const fit = this.check(day, r, s, opts);
      if (fit.ok) return { booking: { ...o, roomId: fit.roomId, lawyerId: fit.lawyerId, start: s, end: s + r.duration, status: 'booked' }, yielded: [] };
      if (!mayYield) continue;
      // Own room first, then the others in preference order.
      const rooms = [...r.rooms].sort((x, y) => Number(y.id === o.roomId) - Number(x.id === o.roomId));
      for (const room of rooms) {
        const probe: Booking = { ...o, roomId: room.id, start: s, end: s + r.duration, status: 'booked' };
        const blockers = [...day.booked].map((x) => this.mustGet(x)).filter((x) => clash(probe, x));
        if (blockers.length === 0) continue;
        if (blockers.some((x) => immovable.has(x.id) || PRIORITY_RANK[x.request.priorityClass] >= r.rank)) continue;
        for (const x of blockers) this.release(x);
        const yfit = this.check(day, r, s, { onlyRoom: room.id, preferLawyer: o.lawyerId });
        if (yfit.ok) return { booking: { ...o, roomId: yfit.roomId, lawyerId: yfit.lawyerId, start: s, end: s + r.duration, status: 'booked' }, yielded: blockers };
        for (const x of blockers) this.hold(x);
      }
    }
    return undefined;
  }

  /** Plans many requests into this schedule; see `planDay`. Bookings already made are not moved. */
  plan(requests: readonly BookingRequest[]): PlanResult {
    const all = requests.map((q, i) => this.resolve(q, i, true));
    const planned = new Map<BookingId, Resolved>();
    const unplaced: Array<{ readonly r: Resolved; readonly reason: RejectReason }> = [];
    for (const rank of [2, 1, 0]) {
      const cls = all.filter((r) => r.rank === rank);
      if (cls.length === 0) continue;
      cls.sort(
        (a, b) =>
          a.rooms.length - b.rooms.length ||
          a.slotLen - b.slotLen ||
          Number(a.req.lawyerId === undefined) - Number(b.req.lawyerId === undefined) ||
          a.req.requestedStart - b.req.requestedStart ||
          a.order - b.order,
      );
      // Gaps are judged against the room slots of this class still to be planned that day: the
      // shortest of them (suffix minimum, in planning order) and the median of the class.
      const packingAt: Packing[] = new Array<Packing>(cls.length);
      const shortest = new Map<IsoDate, number>();
      const lengths = new Map<IsoDate, number[]>();
      for (const r of cls) {
        const list = lengths.get(r.req.date);
        if (list === undefined) lengths.set(r.req.date, [r.slotLen]);
        else list.push(r.slotLen);
      }
      const median = new Map([...lengths].map(([date, l]) => [date, l.sort((x, y) => x - y)[Math.floor((l.length - 1) / 2)] ?? 1]));
      for (let i = cls.length - 1; i >= 0; i--) {
        const r = cls[i];
        if (r === undefined) continue;
        const minGap = Math.min(shortest.get(r.req.date) ?? Infinity, r.slotLen);
        shortest.set(r.req.date, minGap);
        packingAt[i] = { minGap, unit: median.get(r.req.date) ?? r.slotLen };
      }
      const left: Resolved[] = [];
      cls.forEach((r, i) => {
        const best = this.bestFit(r, packingAt[i] ?? { minGap: r.slotLen, unit: r.slotLen });
        if (best === undefined) left.push(r);
        else planned.set(this.commit(r, best.start, best).id, r);
      });
      const finalPacking = new Map([...shortest].map(([date, minGap]) => [date, { minGap, unit: median.get(date) ?? minGap }]));
      for (const r of this.repair(left, rank, planned, finalPacking)) {
        const fit = this.check(this.day(r.req.date), r, r.req.requestedStart);
        if (fit.ok) planned.set(this.commit(r, r.req.requestedStart, fit).id, r);
        else unplaced.push({ r, reason: fit.reason });
      }
    }
    return {
      placed: [...planned.keys()].map((id) => this.mustGet(id)).sort(byTime),
      unplaced: unplaced.sort((a, b) => a.r.order - b.r.order).map(({ r, reason }) => ({ request: r.req, reason })),
    };
  }

  // ----- private -----

  private mustGet(id: BookingId): Booking {
    const b = this.byId.get(id);
    if (b === undefined) throw new RangeError(`no booking ${id}`);
    return b;
  }

  private day(date: IsoDate): Day {
    let day = this.days.get(date);
    if (day === undefined) {
      day = new Day(this.site, date);
      this.days.set(date, day);
    }
    return day;
  }

  private resolve(q: BookingRequest, order: number, keepPin: boolean): Resolved {
    const bad = (what: string): RangeError => new RangeError(`request ${q.requestId}: bad ${what}`);
    assertIsoDate(q.date);
    if (!isWholeIn(q.requestedStart, 0, MINUTES_PER_DAY)) throw bad('requestedStart');
    if (!isWholeIn(q.durationMin, 1, MINUTES_PER_DAY)) throw bad('durationMin');
    if (q.escortBeforeMin !== undefined && !isWholeIn(q.escortBeforeMin, 0, 240)) throw bad('escortBeforeMin');
    if (q.changeoverAfterMin !== undefined && !isWholeIn(q.changeoverAfterMin, 0, 240)) throw bad('changeoverAfterMin');
    if (q.lawyerRole === 'defence' && !q.lawyerId) throw bad('lawyerId: a defence lawyer must be named');
    if (q.roomId !== undefined && !this.roomById.has(q.roomId)) throw bad(`roomId: unknown room ${q.roomId}`);
    const escort = q.sessionKind === 'bail_hearing' ? 0 : (q.escortBeforeMin ?? this.site.defaultEscortBeforeMin);
    const changeover = q.changeoverAfterMin ?? this.site.defaultChangeoverAfterMin;
    return this.resolved(q, order, escort, changeover, q.durationMin, keepPin ? q.roomId : undefined);
  }

  /** A booking's request as placed (its buffers and its current length), its room pin dropped. */
  private fromBooking(b: Booking, date: IsoDate): Resolved {
    return this.resolved({ ...b.request, date }, 0, b.escortBeforeMin, b.changeoverAfterMin, b.end - b.start, undefined);
  }

  private resolved(q: BookingRequest, order: number, escort: number, changeover: number, duration: number, pin: string | undefined): Resolved {
    const rooms: Room[] = [];
    for (const kind of this.site.roomKinds[q.sessionKind]) {
      for (const room of this.site.rooms) {
        if (room.kind === kind && room.active && (pin === undefined || room.id === pin) && !rooms.includes(room)) rooms.push(room);
      }
    }
    return {
      req: q,
      rank: PRIORITY_RANK[q.priorityClass],
      escort,
      changeover,
      duration,
      slotLen: escort + duration + changeover,
      rooms,
      detaineeKey: detaineeKey(q.detaineeId),
      prosecutorKey: prosecutorKey(q.prosecutorId),
      order,
    };
  }

  /** Can `r` start at `s`? If so, in which room and with which lawyer. */
  private check(day: Day, r: Resolved, s: Minute, o: CheckOptions = {}): Check {
    if (r.rooms.length === 0 || (o.onlyRoom !== undefined && !r.rooms.some((x) => x.id === o.onlyRoom))) {
      return { ok: false, reason: 'no_room_of_kind' };
    }
    const from = s - r.escort;
    const to = s + r.duration + r.changeover;
    const window = from >= 0 && to <= MINUTES_PER_DAY ? windowContaining(day.windows, from, to) : undefined;
    if (window === undefined) return { ok: false, reason: 'outside_window' };
    const people = this.people(day, r, s, o.preferLawyer);
    if (!people.ok) return people;
    // The preferred room if it is free; else the most preferred kind (r.rooms is in kind order), then least cost.
    const preferred = o.preferRoom === undefined || (o.onlyRoom !== undefined && o.onlyRoom !== o.preferRoom) ? undefined : r.rooms.find((x) => x.id === o.preferRoom);
    if (preferred !== undefined) {
      const cost = this.roomCost(day, r, preferred, from, to, window, o.packing);
      if (typeof cost === 'number') return { ok: true, roomId: preferred.id, lawyerId: people.lawyerId, cost };
    }
    let best: { roomId: string; kind: RoomKind; cost: number } | undefined;
    let freeButReserved = false;
    for (const room of r.rooms) {
      if (o.onlyRoom !== undefined && room.id !== o.onlyRoom) continue;
      if (best !== undefined && best.kind !== room.kind) break;
      const cost = this.roomCost(day, r, room, from, to, window, o.packing);
      if (cost === 'reserved') freeButReserved = true;
      if (typeof cost === 'number' && (best === undefined || cost < best.cost)) best = { roomId: room.id, kind: room.kind, cost };
    }
    if (best === undefined) return { ok: false, reason: freeButReserved ? 'reserved' : 'room_busy' };
    return { ok: true, roomId: best.roomId, lawyerId: people.lawyerId, cost: best.cost };
  }

  /** Duty roster, then detainee, prosecutor and lawyer free for a session starting at `s`. */
  private people(day: Day, r: Resolved, s: Minute, preferLawyer: string | undefined): PeopleCheck {
    const q = r.req;
    const end = s + r.duration;
    if (q.lawyerRole === 'duty') {
      if (q.lawyerId !== undefined ? !day.onDuty(q.lawyerId, s, end) : !day.dutyLawyers.some((id) => day.onDuty(id, s, end))) {
        return { ok: false, reason: 'lawyer_not_on_duty' };
      }
    }
    if (!day.isPersonFree(r.detaineeKey, s - r.escort, end + r.escort)) return { ok: false, reason: 'detainee_busy' };
    if (!day.isPersonFree(r.prosecutorKey, s, end)) return { ok: false, reason: 'prosecutor_busy' };
    if (q.lawyerId !== undefined) {
      return day.isPersonFree(lawyerKey(q.lawyerId), s, end) ? { ok: true, lawyerId: q.lawyerId } : { ok: false, reason: 'lawyer_busy' };
    }
    let pick: string | undefined;
    let pickLoad = Infinity;
    for (const id of day.dutyLawyers) {
      if (!day.onDuty(id, s, end) || !day.isPersonFree(lawyerKey(id), s, end)) continue;
      if (id === preferLawyer) return { ok: true, lawyerId: id };
      const load = day.load.get(id) ?? 0;
      if (load < pickLoad) {
        pick = id;
        pickLoad = load;
      }
    }
    return pick === undefined ? { ok: false, reason: 'lawyer_busy' } : { ok: true, lawyerId: pick };
  }

  /**
   * Cost of putting the room slot `[from, to)` into a room (the gaps it leaves beside it, if
   * `packing` is given; 0 otherwise), or why it cannot go there.
   */
  private roomCost(day: Day, r: Resolved, room: Room, from: Minute, to: Minute, window: TimeRange, packing: Packing | undefined): number | 'busy' | 'reserved' {
    const state = day.rooms.get(room.id);
    if (state === undefined || !state.busy.isFree(from, to)) return 'busy';
    const reserved = state.reserved[r.rank];
    if (reserved !== undefined && !reserved.isFree(from, to)) return 'reserved';
    let cost = 0;
    if (packing !== undefined) {
      const prev = Math.max(state.busy.busyUntilBefore(from, window.start), reserved?.busyUntilBefore(from, window.start) ?? window.start);
      const next = Math.min(state.busy.nextBusy(to, window.end), reserved?.nextBusy(to, window.end) ?? window.end);
      cost += gapCost(from - prev, packing) + gapCost(next - to, packing);
    }
    return cost;
  }

  /** Session starts whose room slot begins on the grid and lies inside a working window of the day. */
  private gridStarts(day: Day, r: Resolved): Minute[] {
    const g = this.site.slotMinutes;
    const out: Minute[] = [];
    for (const w of day.windows) {
      for (let from = Math.ceil(w.start / g) * g; from + r.slotLen <= w.end; from += g) out.push(from + r.escort);
    }
    return out;
  }

  /**
   * Candidate (start, room) pairs for `r`, nearest `target` first, then earlier, then by room
   * preference. In each allowed room, each free run of a window (not held, not reserved against the
   * request's class) long enough for the room slot offers: the slot packed against its start, packed
   * against its end, the slots on the grid, and the requested start. Encoded as numbers (see
   * START_SPAN, ROOM_SPAN; room code = 1 + index in `r.rooms`) so that one numeric sort orders them.
   */
  private candidates(day: Day, r: Resolved, target: Minute, onlyRoom?: string): Float64Array {
    const g = this.site.slotMinutes;
    const keys: number[] = [];
    const push = (from: Minute, code: number): void => {
      const s = from + r.escort;
      keys.push((Math.abs(s - target) * START_SPAN + s) * ROOM_SPAN + code);
    };
    r.rooms.forEach((room, index) => {
      const state = day.rooms.get(room.id);
      if (state === undefined || (onlyRoom !== undefined && room.id !== onlyRoom)) return;
      const { busy } = state;
      const reserved = state.reserved[r.rank];
      const nextFree = (x: Minute, limit: Minute): Minute => {
        for (;;) {
          const a = busy.nextFree(x, limit);
          const b = reserved === undefined ? a : reserved.nextFree(a, limit);
          if (a === b) return a;
          x = b;
        }
      };
      const nextBlocked = (x: Minute, limit: Minute): Minute => Math.min(busy.nextBusy(x, limit), reserved?.nextBusy(x, limit) ?? limit);
      for (const w of day.windows) {
        for (let u = nextFree(w.start, w.end); u < w.end; ) {
          const v = nextBlocked(u, w.end);
          const last = v - r.slotLen;
          if (last >= u) {
            push(u, index + 1);
            if (last !== u) push(last, index + 1);
            for (let a = Math.ceil((u + 1) / g) * g; a < last; a += g) push(a, index + 1);
            const wanted = target - r.escort;
            if (wanted > u && wanted < last && wanted % g !== 0) push(wanted, index + 1);
          }
          u = nextFree(v, w.end);
        }
      }
    });
    return Float64Array.from(keys).sort();
  }

  /** Up to three feasible starts other than `failed`, nearest the requested start first, each in its best room. */
  private alternatives(day: Day, r: Resolved, failed: Minute, o: CheckOptions): Placement[] {
    const out: Placement[] = [];
    const tried = new Set<Minute>([failed]);
    for (const key of this.candidates(day, r, failed, o.onlyRoom)) {
      if (out.length === MAX_ALTERNATIVES) break;
      const start = Math.floor(key / ROOM_SPAN) % START_SPAN;
      if (tried.has(start)) continue;
      tried.add(start);
      const fit = this.check(day, r, start, { ...o, packing: { minGap: r.slotLen, unit: r.slotLen } });
      if (fit.ok) out.push({ date: r.req.date, roomId: fit.roomId, start, end: start + r.duration, lawyerId: fit.lawyerId });
    }
    return out;
  }

  /** The feasible (start, room) of least score: distance from the requested start plus room cost. */
  private bestFit(r: Resolved, packing: Packing): { start: Minute; roomId: string; lawyerId: string } | undefined {
    const day = this.day(r.req.date);
    const target = r.req.requestedStart;
    const people = new Map<Minute, PeopleCheck>();
    let best: { start: Minute; roomId: string; lawyerId: string; score: number } | undefined;
    for (const key of this.candidates(day, r, target)) {
      const distance = Math.floor(key / (ROOM_SPAN * START_SPAN));
      if (best !== undefined && distance >= best.score) break;
      const start = Math.floor(key / ROOM_SPAN) % START_SPAN;
      const room = r.rooms[(key % ROOM_SPAN) - 1];
      if (room === undefined) continue;
      let p = people.get(start);
      if (p === undefined) {
        p = this.people(day, r, start, undefined);
        people.set(start, p);
      }
      if (!p.ok) continue;
      const from = start - r.escort;
      const to = start + r.duration + r.changeover;
      const window = windowContaining(day.windows, from, to);
      if (window === undefined) continue;
      const cost = this.roomCost(day, r, room, from, to, window, packing);
      if (typeof cost !== 'number') continue;
      if (best === undefined || distance + cost < best.score) best = { start, roomId: room.id, lawyerId: p.lawyerId, score: distance + cost };
    }
    return best;
  }

  /**
   * For each left-over request, tries starts nearest its requested one where a single booking of the
   * same class, placed by this plan, is all that is in the way in some room, and moves that booking
   * to its own best other place if it has one. Bounded work; returns the requests still left over.
   */
  private repair(left: readonly Resolved[], rank: number, planned: Map<BookingId, Resolved>, packing: ReadonlyMap<IsoDate, Packing>): Resolved[] {
    const still: Resolved[] = [];
    let budget = left.length + 32;
    for (const r of left) {
      const day = this.day(r.req.date);
      const p = packing.get(r.req.date) ?? { minGap: r.slotLen, unit: r.slotLen };
      let done = false;
      if (budget > 0 && this.hasFreeRun(day, p.minGap)) {
        const target = r.req.requestedStart;
        const starts = this.gridStarts(day, r).sort((a, b) => Math.abs(a - target) - Math.abs(b - target) || a - b);
        search: for (const s of starts) {
          if (!this.people(day, r, s, undefined).ok) continue;
          const from = s - r.escort;
          const to = s + r.duration + r.changeover;
          for (const room of r.rooms) {
            const state = day.rooms.get(room.id);
            if (state === undefined || !(state.reserved[r.rank]?.isFree(from, to) ?? true)) continue;
            let blocker: Booking | undefined;
            let count = 0;
            for (const id of state.bookings) {
              const b = this.mustGet(id);
              if (overlaps(roomSlot(b), from, to)) {
                blocker = b;
                count++;
              }
            }
            const br = blocker === undefined ? undefined : planned.get(blocker.id);
            if (count !== 1 || blocker === undefined || br === undefined || br.rank !== rank) continue;
            if (budget-- <= 0) break search;
            this.release(blocker);
            const fit = this.check(day, r, s, { onlyRoom: room.id });
            if (fit.ok) {
              const mine = this.commit(r, s, fit);
              const other = this.bestFit(br, p);
              if (other !== undefined) {
                const moved: Booking = { ...blocker, roomId: other.roomId, lawyerId: other.lawyerId, start: other.start, end: other.start + br.duration };
                this.hold(moved);
                this.byId.set(moved.id, moved);
                planned.set(mine.id, r);
                done = true;
                break search;
              }
              this.release(mine);
              this.byId.delete(mine.id);
            }
            this.hold(blocker);
          }
        }
      }
      if (!done) still.push(r);
    }
    return still;
  }

  /** Is some active room free for `len` minutes, on the grid, inside a window? */
  private hasFreeRun(day: Day, len: number): boolean {
    const g = this.site.slotMinutes;
    for (const { room, busy } of day.rooms.values()) {
      if (!room.active) continue;
      for (const w of day.windows) {
        for (let from = Math.ceil(w.start / g) * g; from + len <= w.end; from += g) if (busy.isFree(from, from + len)) return true;
      }
    }
    return false;
  }

  private commit(r: Resolved, start: Minute, fit: { readonly roomId: string; readonly lawyerId: string }): Booking {
    let id: BookingId;
    do id = `bk-${this.seq++}`;
    while (this.byId.has(id));
    const b: Booking = {
      id,
      request: r.req,
      date: r.req.date,
      roomId: fit.roomId,
      start,
      end: start + r.duration,
      lawyerId: fit.lawyerId,
      escortBeforeMin: r.escort,
      changeoverAfterMin: r.changeover,
      status: 'booked',
    };
    this.hold(b);
    this.byId.set(id, b);
    return b;
  }

  private setStatus(b: Booking, status: 'cancelled' | 'no_show'): Booking {
    if (b.status === 'booked') this.release(b);
    const next: Booking = { ...b, status };
    this.byId.set(b.id, next);
    return next;
  }

  private clashesWithHeld(b: Booking): boolean {
    const day = this.day(b.date);
    const slot = roomSlot(b);
    const det = detaineeSpan(b);
    return (
      !(day.rooms.get(b.roomId)?.busy.isFree(Math.max(0, slot.start), Math.min(MINUTES_PER_DAY, slot.end)) ?? true) ||
      !day.isPersonFree(detaineeKey(b.request.detaineeId), det.start, det.end) ||
      !day.isPersonFree(prosecutorKey(b.request.prosecutorId), b.start, b.end) ||
      !day.isPersonFree(lawyerKey(b.lawyerId), b.start, b.end)
    );
  }

  private hold(b: Booking): void {
    this.mark(b, true);
  }

  private release(b: Booking): void {
    this.mark(b, false);
  }

  private mark(b: Booking, on: boolean): void {
    const day = this.day(b.date);
    const room = day.rooms.get(b.roomId);
    const slot = roomSlot(b);
    const det = detaineeSpan(b);
    const spans: Array<[MinuteSet | undefined, number, number]> = [
      [room?.busy, slot.start, slot.end],
      [day.person(detaineeKey(b.request.detaineeId)), det.start, det.end],
      [day.person(prosecutorKey(b.request.prosecutorId)), b.start, b.end],
      [day.person(lawyerKey(b.lawyerId)), b.start, b.end],
    ];
    for (const [set, from, to] of spans) {
      const a = Math.max(0, from);
      const z = Math.min(MINUTES_PER_DAY, to);
      if (on) set?.add(a, z);
      else set?.remove(a, z);
    }
    day.load.set(b.lawyerId, (day.load.get(b.lawyerId) ?? 0) + (on ? 1 : -1));
    if (on) {
      day.booked.add(b.id);
      room?.bookings.add(b.id);
    } else {
      day.booked.delete(b.id);
      room?.bookings.delete(b.id);
    }
  }
}
