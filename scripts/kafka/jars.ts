import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { LauncherError } from './errors.js';
import type { LauncherSettings } from './settings.js';
import { findMaven, runCommand } from './tools.js';

/** slf4j 1.7 binding for reload4j, which reads the log4j 1 properties file that Kafka 3.9 uses. */
const SLF4J_VERSION = '1.7.36';
const RELOAD4J_VERSION = '1.2.25';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** File written last into the libs folder, so a folder without it is an interrupted download. */
const COMPLETE_MARKER = '.complete';

/**
 * Makes sure the broker jars for `settings.kafkaVersion` are in
 * `settings.libsDir`, downloading them from Maven Central with Maven when
 * they are missing. Returns the libs folder.
 */
export async function resolveBrokerJars(
  settings: LauncherSettings,
  log: (message: string) => void = () => {},
): Promise<string> {
  const { libsDir, kafkaVersion } = settings;
  if (existsSync(join(libsDir, COMPLETE_MARKER))) {
    return libsDir;
  }

  const mvn = await findMaven(libsDir);
  log(`Downloading Kafka ${kafkaVersion} broker jars with Maven into ${libsDir}`);

  const versionDir = dirname(libsDir);
  await mkdir(versionDir, { recursive: true });
  const workDir = await mkdtemp(join(versionDir, 'resolve-'));
  try {
    const stagingDir = join(workDir, 'libs');
    await writeFile(join(workDir, 'pom.xml'), brokerPom(kafkaVersion));
    const result = await runCommand(
      mvn,
      [
        '-B',
        '-q',
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        '-DincludeScope=runtime',
        `-DoutputDirectory=${stagingDir}`,
      ],
      { cwd: workDir },
    );
    if (result.exitCode !== 0) {
      throw new LauncherError(
        `Maven failed to download the Kafka ${kafkaVersion} broker jars (exit code ${result.exitCode}). ` +
          `Check network access to Maven Central and any proxy settings in ~/.m2/settings.xml. Maven output:\n` +
          result.output.trim(),
      );
    }

    const jars = (await readdir(stagingDir)).filter((name) => name.endsWith('.jar'));
    if (!jars.includes(`kafka_2.13-${kafkaVersion}.jar`)) {
      throw new LauncherError(
        `Maven finished, but kafka_2.13-${kafkaVersion}.jar is not among the ${jars.length} downloaded jars in ${stagingDir}.`,
      );
    }
    await writeFile(join(stagingDir, COMPLETE_MARKER), `${jars.length} jars\n`);

    await rm(libsDir, { recursive: true, force: true });
    try {
      await rename(stagingDir, libsDir);
    } catch (error) {
      // Another launcher may have finished the same download first.
      if (!existsSync(join(libsDir, COMPLETE_MARKER))) {
        throw error;
      }
    }
    log(`Downloaded ${jars.length} jars`);
    return libsDir;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function brokerPom(kafkaVersion: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.tickbus.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>${kafkaVersion}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${kafkaVersion}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>${RELOAD4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}
