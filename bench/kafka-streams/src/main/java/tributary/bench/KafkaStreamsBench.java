package tributary.bench;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * The Kafka Streams side of Tributary's side-by-side benchmark (bench/suite.ts runs it; issue 7).
 *
 * <p>Reads a pre-produced input topic (JSON readings of ~100 bytes, String keys; bench/workloads.ts
 * documents the generator) with one stream thread and runs one workload until the application's
 * committed offsets cover every record of its input topics, then prints a SimpleBenchmark-style line
 * and one machine-readable line: {@code RESULT {"engine":"kafka-streams",...}}.
 *
 * <ul>
 *   <li>w1 (streamprocesswithsink): filter + mapValues, JSON in and out
 *   <li>w2 (streamcount): groupByKey().count(), persistent RocksDB store with its changelog
 *   <li>w3 (streamcountwindowed): tumbling-window count with grace
 *   <li>w4 (join, stream-table): stream.join(table) with the table topic as its own changelog
 * </ul>
 *
 * <p>Time is measured from {@code KafkaStreams.start()} (so it includes joining the group, as on the
 * Tributary side) to the first observation (polled every 20 ms once every input record was
 * deserialized) of committed offsets that cover the input topics' end offsets; msFromFirst is the
 * same span from the first record deserialized (start-up excluded).
 */
public final class KafkaStreamsBench {

  /** An input record's value (bench/workloads.ts: Reading). */
  public static final class Reading {
    public String sensor;
    public long seq;
    public double celsius;
    public String site;
    public String unit;
  }

  /** W1's output value. */
  public static final class Fahrenheit {
    public String sensor;
    public long seq;
    public double fahrenheit;

    public Fahrenheit() {}

    Fahrenheit(String sensor, long seq, double fahrenheit) {
      this.sensor = sensor;
      this.seq = seq;
      this.fahrenheit = fahrenheit;
    }
  }

  /** W4's table value (bench/workloads.ts: Sensor). */
  public static final class Sensor {
    public String name;
    public String site;
    public String model;
  }

  /** W4's output value. */
  public static final class Enriched {
    public String sensor;
    public long seq;
    public double celsius;
    public String site;
    public String model;

    public Enriched() {}

    Enriched(Reading r, Sensor s) {
      this.sensor = r.sensor;
      this.seq = r.seq;
      this.celsius = r.celsius;
      this.site = s.site;
      this.model = s.model;
    }
  }

  private static final ObjectMapper MAPPER = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** JSON serde on Jackson data binding, the usual way to read JSON in a Kafka Streams app. */
  static <T> Serde<T> json(Class<T> type) {
    ObjectReader reader = MAPPER.readerFor(type);
    ObjectWriter writer = MAPPER.writerFor(type);
    Serializer<T> ser = (topic, value) -> {
      if (value == null) return null;
      try {
        return writer.writeValueAsBytes(value);
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    };
    Deserializer<T> de = (topic, bytes) -> {
      if (bytes == null) return null;
      try {
        return reader.readValue(bytes);
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    };
    return Serdes.serdeFrom(ser, de);
  }

  /** Counts the records and bytes the input stream's source deserializes (keys and values). */
  static final LongAdder inputRecords = new LongAdder();

  static final LongAdder inputBytes = new LongAdder();

  /** Records handed to the sink (a peek before to()): W4's join hits, W2/W3's forwarded counts. */
  static final LongAdder outputs = new LongAdder();

  static <T> Serde<T> counting(Serde<T> inner, boolean countRecords) {
    Deserializer<T> de = inner.deserializer();
    return Serdes.serdeFrom(inner.serializer(), (topic, bytes) -> {
      if (bytes != null) inputBytes.add(bytes.length);
      if (countRecords) inputRecords.increment();
      return de.deserialize(topic, bytes);
    });
  }

  static final class Args {
    String bootstrap = "127.0.0.1:19092";
    String workload;
    String input;
    String table;
    String output;
    String appId;
    String stateDir;
    String guarantee = "exactly_once_v2";
    long commitIntervalMs = 100;
    long windowMs = 60_000;
    long graceMs = 5_000;
    long timeoutS = 900;
    /** When > 0: the input is produced while the app runs (bench/latency.ts); done once this many are committed. */
    long expectRecords = 0;
    /** The group has committed part of the input before (bench/restore.ts restarts it after kill -9): check its offsets without waiting for every input record to be read here. */
    boolean resume = false;
  }

  static Args parse(String[] argv) {
    Args a = new Args();
    for (int i = 0; i < argv.length; i++) {
      String k = argv[i];
      if (k.equals("--help") || k.equals("-h")) {
        System.out.println("usage: KafkaStreamsBench --workload w1|w2|w3|w4 --input TOPIC [--table TOPIC (w4)] --output TOPIC --app-id ID --state-dir DIR"
            + " [--bootstrap 127.0.0.1:19092] [--guarantee exactly_once_v2|at_least_once] [--commit-interval 100]"
            + " [--window-ms 60000] [--grace-ms 5000] [--timeout-s 900] [--expect-records N] [--resume]");
        System.exit(0);
      }
      if (k.equals("--resume")) {
        a.resume = true;
        continue;
      }
      if (i + 1 >= argv.length) throw new IllegalArgumentException("missing value for " + k);
      String v = argv[++i];
      switch (k) {
        case "--bootstrap" -> a.bootstrap = v;
        case "--expect-records" -> a.expectRecords = Long.parseLong(v);
        case "--workload" -> a.workload = v;
        case "--input" -> a.input = v;
        case "--table" -> a.table = v;
        case "--output" -> a.output = v;
        case "--app-id" -> a.appId = v;
        case "--state-dir" -> a.stateDir = v;
        case "--guarantee" -> a.guarantee = v;
        case "--commit-interval" -> a.commitIntervalMs = Long.parseLong(v);
        case "--window-ms" -> a.windowMs = Long.parseLong(v);
        case "--grace-ms" -> a.graceMs = Long.parseLong(v);
        case "--timeout-s" -> a.timeoutS = Long.parseLong(v);
        default -> throw new IllegalArgumentException("unknown option " + k);
      }
    }
    if (a.workload == null || a.input == null || a.output == null || a.appId == null || a.stateDir == null)
      throw new IllegalArgumentException("--workload, --input, --output, --app-id and --state-dir are required (--help)");
    if (a.workload.equals("w4") && a.table == null) throw new IllegalArgumentException("w4 needs --table");
    return a;
  }

  static StreamsBuilder topology(Args a) {
    StreamsBuilder b = new StreamsBuilder();
    Serde<String> str = Serdes.String();
    Serde<Reading> readings = json(Reading.class);
    KStream<String, Reading> source = b.stream(a.input, Consumed.with(counting(Serdes.String(), false), counting(readings, true)));
    switch (a.workload) {
      case "w1" -> source
          .filter((k, r) -> r.celsius > -100)
          .mapValues(r -> new Fahrenheit(r.sensor, r.seq, r.celsius * 1.8 + 32))
          .peek((k, v) -> outputs.increment())
          .to(a.output, Produced.with(str, json(Fahrenheit.class)));
      case "w2" -> source
          .groupByKey(Grouped.with(str, readings))
          .count(Materialized.as("counts"))
          .toStream()
          .peek((k, v) -> outputs.increment())
          .to(a.output, Produced.with(str, Serdes.Long()));
      case "w3" -> source
          .groupByKey(Grouped.with(str, readings))
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(a.windowMs), Duration.ofMillis(a.graceMs)))
          .count(Materialized.as("window-counts"))
          .toStream((w, n) -> w.key() + "@" + w.window().start())
          .peek((k, v) -> outputs.increment())
          .to(a.output, Produced.with(str, Serdes.Long()));
      case "w4" -> {
        KTable<String, Sensor> sensors = b.table(a.table, Consumed.with(str, json(Sensor.class)), Materialized.as("sensors"));
        source
            .join(sensors, Enriched::new, Joined.with(str, readings, json(Sensor.class)))
            .peek((k, v) -> outputs.increment())
            .to(a.output, Produced.with(str, json(Enriched.class)));
      }
      default -> throw new IllegalArgumentException("unknown workload " + a.workload);
    }
    return b;
  }

  static String simpleBenchmarkName(String workload) {
    return switch (workload) {
      case "w1" -> "streamprocesswithsink (filter + mapValues)";
      case "w2" -> "streamcount (count by key, RocksDB + changelog)";
      case "w3" -> "streamcountwindowed (tumbling window count with grace)";
      case "w4" -> "streamtablejoin (stream-table join)";
      default -> workload;
    };
  }

  static long peakRssKiB() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
        if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux: no figure
    }
    return -1;
  }

  static String jsonString(String s) {
    return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }

  public static void main(String[] argv) throws Exception {
    Args a = parse(argv);
    List<String> inputs = new ArrayList<>(List.of(a.input));
    if (a.workload.equals("w4")) inputs.add(a.table);

    Properties adminProps = new Properties();
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, a.bootstrap);
    try (Admin admin = Admin.create(adminProps)) {
      // What "done" means: the group's committed offsets reach the input topics' end offsets.
      Map<String, TopicDescription> described = admin.describeTopics(inputs).allTopicNames().get();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      described.values().forEach(d -> d.partitions().forEach(p -> latest.put(new TopicPartition(d.name(), p.partition()), OffsetSpec.latest())));
      Map<TopicPartition, Long> end = new HashMap<>();
      admin.listOffsets(latest).all().get().forEach((tp, info) -> end.put(tp, info.offset()));
      long expected = end.values().stream().mapToLong(Long::longValue).sum();
      long records = end.entrySet().stream().filter(e -> e.getKey().topic().equals(a.input)).mapToLong(Map.Entry::getValue).sum();
      if (a.expectRecords > 0) {
        // the input is still to come (bench/latency.ts produces it at a fixed rate once RUNNING is printed)
        expected += a.expectRecords - records;
        records = a.expectRecords;
      }
      int partitions = described.get(a.input).partitions().size();
      try {
        admin.createTopics(List.of(new NewTopic(a.output, partitions, (short) 1))).all().get();
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }

      Properties props = new Properties();
      props.put(StreamsConfig.APPLICATION_ID_CONFIG, a.appId);
      props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.bootstrap);
      props.put(StreamsConfig.STATE_DIR_CONFIG, a.stateDir);
      props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.guarantee);
      props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.commitIntervalMs);
      props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
      props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
      // the table's source topic is its changelog, as in Tributary (b.table)
      props.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
      props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
      // Kafka Streams refuses a commit interval above its transaction timeout (10 s under
      // exactly-once): a long interval needs a longer timeout
      props.put(StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG), (int) Math.max(10_000, a.commitIntervalMs * 2));

      StreamsBuilder builder = topology(a);
      KafkaStreams streams = new KafkaStreams(builder.build(props), props);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      streams.setUncaughtExceptionHandler(e -> {
        failure.compareAndSet(null, e);
        return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });

      long[] runningAt = {-1};
      streams.setStateListener((next, prev) -> {
        if (next == KafkaStreams.State.RUNNING) {
          if (runningAt[0] < 0) runningAt[0] = System.nanoTime();
          System.out.println("RUNNING");
          System.out.flush();
        }
      });
      // restore figures (bench/restore.ts): records replayed from changelogs, first start to last end
      LongAdder restored = new LongAdder();
      long[] restoreSpan = {-1, -1};
      streams.setGlobalStateRestoreListener(new StateRestoreListener() {
        @Override
        public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
          synchronized (restoreSpan) {
            if (restoreSpan[0] < 0) restoreSpan[0] = System.nanoTime();
          }
        }

        @Override
        public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
          restored.add(n);
        }

        @Override
        public void onRestoreEnd(TopicPartition tp, String store, long total) {
          synchronized (restoreSpan) {
            restoreSpan[1] = System.nanoTime();
          }
        }
      });
      long t0 = System.nanoTime();
      streams.start();
      long deadline = t0 + a.timeoutS * 1_000_000_000L;
      long doneAt = -1;
      long firstAt = -1;
      long committed = 0;
      while (System.nanoTime() < deadline && failure.get() == null) {
        Thread.sleep(20);
        long seen = inputRecords.sum();
        if (firstAt < 0 && seen > 0) firstAt = System.nanoTime();
        if (seen < records && !a.resume) continue;
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(a.appId).partitionsToOffsetAndMetadata().get();
        committed = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
          if (end.containsKey(e.getKey()) && e.getValue() != null) committed += e.getValue().offset();
        }
        if (committed >= expected) {
          doneAt = System.nanoTime();
          break;
        }
      }
      streams.close(Duration.ofSeconds(60));
      streams.cleanUp();

      String error = failure.get() != null ? String.valueOf(failure.get()) : doneAt < 0 ? "timed out after " + a.timeoutS + " s with " + committed + " of " + expected + " offsets committed" : null;
      long ms = doneAt < 0 ? -1 : Math.round((doneAt - t0) / 1e6);
      // the same span without start-up (group join, producer and store initialisation): from the first record deserialized
      long msFromFirst = doneAt < 0 || firstAt < 0 ? -1 : Math.round((doneAt - firstAt) / 1e6);
      double seconds = ms / 1000.0;
      double recPerSec = ms > 0 ? records / seconds : 0;
      double mbPerSec = ms > 0 ? inputBytes.sum() / 1024.0 / 1024.0 / seconds : 0;
      long rss = peakRssKiB();
      // the line Kafka Streams' own SimpleBenchmark prints: records/latency/rec-per-sec/MB-per-sec
      System.out.printf(Locale.ROOT, "Streams Performance [records/latency/rec-sec/MB-sec %s, %s, commit %d ms]: %d/%d/%.1f/%.3f%n",
          simpleBenchmarkName(a.workload), a.guarantee, a.commitIntervalMs, records, ms, recPerSec, mbPerSec);
      System.out.printf(Locale.ROOT,
          "RESULT {\"engine\":\"kafka-streams\",\"workload\":\"%s\",\"guarantee\":\"%s\",\"commitIntervalMs\":%d,\"records\":%d,\"inputRecords\":%d,\"inputBytes\":%d,\"outputs\":%d,\"ms\":%d,\"msFromFirst\":%d,\"recordsPerSec\":%.1f,\"mbPerSec\":%.3f,\"peakRssKiB\":%d,\"restored\":%d,\"restoreMs\":%d,\"msToRunning\":%d,\"error\":%s}%n",
          a.workload, a.guarantee, a.commitIntervalMs, records, inputRecords.sum(), inputBytes.sum(), outputs.sum(), ms, msFromFirst, recPerSec, mbPerSec, rss, restored.sum(),
          restoreSpan[0] < 0 || restoreSpan[1] < 0 ? 0 : Math.round((restoreSpan[1] - restoreSpan[0]) / 1e6), runningAt[0] < 0 ? -1 : Math.round((runningAt[0] - t0) / 1e6), error == null ? "null" : jsonString(error));
      System.out.flush();
      System.exit(error == null ? 0 : 1);
    }
  }
}
