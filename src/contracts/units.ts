/**
 * Units of time, so that no module spells a day its own way. Node-free: the workflow bundle uses
 * them too.
 */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
