//! `sizing FILE...`: how large a processor buffer the user's own events
//! allow, under the current configuration.

use super::config;
use firehose_enricher::replay::input::{self, ReadStats};
use firehose_enricher::sizing;
use std::path::PathBuf;

pub fn run(files: &[PathBuf], json: bool) -> Result<(), String> {
    let config = config()?;
    let mut stats = ReadStats::default();
    let mut events: Vec<Vec<u8>> = Vec::new();
    for (path, _) in input::collect_files(files, None)? {
        let file = input::read_file(&path, &mut stats)?;
        if let Some(why) = &file.damaged {
            eprintln!("firehose-enricher: {why}");
        }
        input::events(&file.data, &mut stats, |event, _| {
            events.push(event.to_vec());
            true
        });
    }
    input::check_events(&stats)?;
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let s = sizing::measure(&refs, &config).ok_or("no events in the files given")?;
    if json {
        println!("{}", serde_json::to_string(&s).map_err(|e| e.to_string())?);
        return Ok(());
    }
    println!("{} sample events", s.events);
    println!(
        "  bytes per record: {} of data, {} in the request, {} in the response",
        s.data_bytes_per_record, s.request_bytes_per_record, s.response_bytes_per_record
    );
    println!(
        "  expansion: the response is {}x the request ({} response bytes per buffered data byte)",
        s.expansion, s.response_per_data_byte
    );
    match s.max_buffer_mb {
        Some(mb) => println!(
            "  largest ProcessorBufferSizeMB that fits the {}-byte response with nothing to re-ingest: {mb:.1}",
            config.max_response_bytes
        ),
        None => println!(
            "  even a {} MB buffer overflows the {}-byte response: records will be re-ingested",
            sizing::MIN_BUFFER_MB,
            config.max_response_bytes
        ),
    }
    Ok(())
}
