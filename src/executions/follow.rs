//! Following a job's long-running operation to its end, under a [`Poller`]'s deadline and
//! cancellation: a look that fails transiently is looked past, as a launch looks past one on
//! an instance's operation.

use super::{ExecutionsClient, ExecutionsError};
use crate::notebooks::Operation;
use crate::notebooks::model::Finished;
use crate::poll::{PollError, Poller, Step};

/// Follows operations of one client with one poller.
#[derive(Debug, Clone, Copy)]
pub struct OperationFollower<'a> {
    pub client: &'a ExecutionsClient,
    pub poller: &'a Poller,
}

impl OperationFollower<'_> {
    /// The end of `operation`; one the API answered done already is not asked again.
    /// `on_pending` hears of each look that found it still going.
    ///
    /// # Errors
    /// [`PollError`]: a look that failed for good, the deadline, or cancellation.
    pub async fn finish(
        &self,
        operation: Operation,
        mut on_pending: impl FnMut(std::time::Duration),
    ) -> Result<Finished, PollError<ExecutionsError>> {
        let name = operation.name.clone();
        let mut first = Some(operation);
        self.poller
            .wait(
                || {
                    let known = first.take();
                    let name = &name;
                    async move {
                        let looked = match known {
                            Some(operation) => Ok(operation),
                            None => self.client.get_operation(name).await,
                        };
                        match looked.map(Operation::outcome) {
                            Ok(Ok(None)) => Step::Pending { state: None },
                            Ok(Ok(Some(finished))) => Step::Done(finished),
                            Ok(Err(malformed)) => Step::Failed(malformed.into()),
                            Err(error) if error.is_transient() => Step::Retry(error),
                            Err(error) => Step::Failed(error),
                        }
                    }
                },
                |_, elapsed| on_pending(elapsed),
            )
            .await
    }
}
