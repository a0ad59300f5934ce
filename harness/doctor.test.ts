import { describe, expect, it } from 'vitest';
import { interpretDockerVersion } from './doctor.ts';
import { MINIMUM_DOCKER_CLI } from './tools.ts';

describe('doctor: Docker CLI version', () => {
  it(`accepts ${MINIMUM_DOCKER_CLI} and later, refuses older, warns when it cannot tell`, () => {
    expect(interpretDockerVersion('20.10.0\n').status).toBe('ok');
    expect(interpretDockerVersion('28.2.2\n')).toMatchObject({ status: 'ok', detail: '28.2.2' });
    expect(interpretDockerVersion('19.03.15\n')).toMatchObject({
      status: 'fail',
      fix: 'upgrade the Docker CLI to 20.10.0 or later',
    });
    expect(interpretDockerVersion('').status).toBe('warn');
  });
});
