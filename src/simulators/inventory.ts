/**
 * A file as the platform has it, the same for every simulator, so a soak test asserts the same
 * things for each: what must end stored (with this size and SHA-256) and what must end a failure.
 */
export interface SimFile {
  /** The platform's id of the file (the test maps it to callvault's source id). */
  id: string;
  size: number;
  /** Of the whole content, hex. */
  sha256: string;
  /**
   * `available`: served now or after the simulated processing; `final`: the platform says it never
   * will be (Bird absent/failed, Kore failed/media_unavailable); `pending`: not ready, and it will
   * not become ready in this simulator.
   */
  availability: 'available' | 'final' | 'pending';
  /** The platform's status word (Bird's recording status, Kore's session status; 'available' for Dixa). */
  status: string;
}
