namespace Cicada.Core;

public static class TaskExtensions
{
    /// <summary>
    /// Lets a store write run on without awaiting it: the store logs its own failures; this only
    /// keeps a fault from surfacing as an unobserved task exception.
    /// </summary>
    public static void Forget(this Task task)
    {
        if (!task.IsCompleted)
        {
            task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else if (task.IsFaulted)
        {
            _ = task.Exception;
        }
    }
}
