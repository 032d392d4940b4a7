import { Injectable } from '@nestjs/common';

/**
 * The time usage facts are recorded at. One seam for tests (a simulated day of byte-hours), never a second clock
 * in production: it is the process's wall clock.
 */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
