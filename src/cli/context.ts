import type { CallvaultConfig } from '../config/schema';
import { OPTION_RULES } from '../contracts/exportInput';
import { textArg, wholeNumberArg } from './args';

/** The configuration the command line names (--config), read when a command needs it. */
export type ConfigSource = () => CallvaultConfig;

/** Flags more than one command group takes. */
export const maxInFlightArg = wholeNumberArg(OPTION_RULES.maxInFlight.min, OPTION_RULES.maxInFlight.max);
export const lookbackDaysArg = wholeNumberArg(0, 366);
export const noteArg = textArg(500);
